"""Property tests: whatever bytes or JSON arrive, the CSV reader and the FHIR importer return a result or raise the
project's own error (``InputError`` / ``ResourceError``) — never another exception. The slow variants run many more
examples."""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance.errors import InputError, ResourceError
from alliance.instruments import load_registry
from alliance.interop import fhir
from alliance.interop.csvio import check_unique, numeric_column, read_table, require_columns

REGISTRY = load_registry()
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# CSV-like text: the characters that matter to a CSV parser, plus anything else now and then.
CSV_TEXT = st.text(alphabet=st.sampled_from(list(',"\n\r\t ;abc123.-\ufeff\x00é')) | st.characters(), max_size=300)
CSV_BYTES = st.binary(max_size=300) | CSV_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass"))


def read_csv_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.csv"
        path.write_bytes(raw)
        try:
            frame = read_table(path)
            for column in list(frame.columns)[:3]:
                numeric_column(frame, column, file=str(path), low=0, high=27, integer=True)
            require_columns(frame, ["client_id"], file=str(path))
            check_unique(frame, ["client_id"], file=str(path))
        except InputError:
            pass


@QUICK
@given(raw=CSV_BYTES)
def test_the_csv_reader_returns_a_table_or_an_input_error(raw: bytes) -> None:
    read_csv_bytes(raw)


@pytest.mark.slow
@LONG
@given(raw=CSV_BYTES)
def test_the_csv_reader_returns_a_table_or_an_input_error_long(raw: bytes) -> None:
    read_csv_bytes(raw)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def valid_response() -> dict[str, Any]:
    instrument = REGISTRY.get("phq9")
    return fhir.questionnaire_response(instrument, {item.id: 1.0 for item in instrument.items}, subject="Patient/x")


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated_responses(draw: st.DrawFn) -> dict[str, Any]:
    """A valid PHQ-9 QuestionnaireResponse with a few places replaced, removed or duplicated."""
    resource = valid_response()
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(resource)[1:]))
        parent = resource
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[where[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[where[-1]]))
        else:
            parent[where[-1]] = draw(JSON)
        if not paths(resource)[1:]:
            break
    return resource


def import_response(data: Any) -> None:
    """Import ``data`` as the CLI does: a file's bytes or text; any other JSON value arrives as its text."""
    if not isinstance(data, str | bytes | dict):
        data = json.dumps(data)
    with contextlib.suppress(ResourceError, InputError):
        fhir.parse_questionnaire_response(data, registry=REGISTRY, file="response.json")


def test_the_unmutated_response_imports() -> None:
    assert fhir.parse_questionnaire_response(valid_response(), registry=REGISTRY).score.total == 9


@QUICK
@given(data=mutated_responses() | JSON | st.binary(max_size=200) | st.text(max_size=200))
def test_the_fhir_importer_returns_a_response_or_a_resource_error(data: Any) -> None:
    import_response(json.dumps(data) if isinstance(data, dict) and len(data) % 2 else data)


@pytest.mark.slow
@LONG
@given(data=mutated_responses() | JSON | st.binary(max_size=200) | st.text(max_size=200))
def test_the_fhir_importer_returns_a_response_or_a_resource_error_long(data: Any) -> None:
    import_response(data)
