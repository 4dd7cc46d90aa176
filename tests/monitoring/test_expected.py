"""Expected treatment response: clients with a similar intake set the band; too little history falls back."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.errors import InputError
from alliance.monitoring.expected import FLAG_COLUMNS, FORMAT, ExpectedResponse, ModelError


def long(scores: dict[str, list[float]]) -> pd.DataFrame:
    """Clients' scores at sessions 1, 2, ... (NaN = no score)."""
    return pd.DataFrame(
        [
            {"id": client, "time": session, "score": value}
            for client, values in scores.items()
            for session, value in enumerate(values, start=1)
        ]
    )


def fit(frame: pd.DataFrame, **params: Any) -> ExpectedResponse:
    return ExpectedResponse(**params).fit(frame, id="id", time="time", score="score")


def flag(model: ExpectedResponse, frame: pd.DataFrame, at: int | None = None) -> pd.DataFrame:
    return model.flag(frame, id="id", time="time", score="score", at=at)


# Four clients; with 3 neighbours the table rests on the 3 nearest intakes.
TINY = {"A": [10, 8], "B": [11, 9], "C": [12, 12], "D": [20, 15, 14]}


def tiny(**params: Any) -> ExpectedResponse:
    return fit(long(TINY), neighbours=3, min_clients=3, **params)


# --- the empirical model, by hand ---------------------------------------------------------------------------


def test_the_table_holds_the_quantiles_of_the_nearest_clients() -> None:
    model = tiny()
    assert model.kind_ == "empirical"
    # Session 3 has one score, fewer than 3 neighbours: the table stops at session 2.
    assert model.sessions_ == (1, 2)
    assert model.intakes_ == tuple(range(10, 21))
    assert (model.n_clients_, model.n_observations_, model.n_skipped_) == (4, 9, 0)
    table = model.table_
    assert table is not None
    # Intake 10, session 2: nearest A (0), B (1), C (2) -> scores 8, 9, 12. R type 7 quantiles on 3 values:
    # position q x 2 -> q10 8 + 0.2 x 1 = 8.2, q25 8.5, q50 9, q75 9 + 0.5 x 3 = 10.5, q90 9 + 0.8 x 3 = 11.4.
    row = table[(table["intake"] == 10) & (table["session"] == 2)]
    assert row[["q10", "q25", "q50", "q75", "q90"]].to_numpy()[0] == pytest.approx([8.2, 8.5, 9, 10.5, 11.4])
    # Intake 20: D (0), C (8), B (9) -> 9, 12, 15: q10 9.6, q25 10.5, q50 12, q75 13.5, q90 14.4.
    row = table[(table["intake"] == 20) & (table["session"] == 2)]
    assert row[["q10", "q25", "q50", "q75", "q90"]].to_numpy()[0] == pytest.approx([9.6, 10.5, 12, 13.5, 14.4])
    # Session 1 holds the intakes themselves: intake 10 -> 10, 11, 12 -> median 11.
    row = table[(table["intake"] == 10) & (table["session"] == 1)]
    assert row["q50"].iloc[0] == 11


def test_ties_are_broken_in_id_order_or_by_the_seed() -> None:
    # Intake 15: C (3), B (4), then A and D both at 5. In id order A comes first: 12, 9, 8 -> median 9.
    table = tiny().table_
    assert table is not None
    at15 = table[(table["intake"] == 15) & (table["session"] == 2)]
    assert at15["q50"].iloc[0] == 9
    # A seed shuffles the tie order; the same seed gives the same table.
    first = tiny(random_state=3).table_
    again = tiny(random_state=3).table_
    assert first is not None and again is not None
    pd.testing.assert_frame_equal(first, again)


def test_status_is_green_amber_or_red_against_the_band_of_similar_clients() -> None:
    model = tiny()
    # Intake 10: band at session 2 is 8.2-11.4, amber above 10.5, red above 11.4.
    new = long({"on": [10, 9], "above75": [10, 11], "above90": [10, 12], "better": [10, 5]})
    got = flag(model, new, at=2)
    assert list(got.columns) == list(FLAG_COLUMNS)
    assert dict(zip(got["id"], got["status"], strict=True)) == {
        "on": "green",
        "above75": "amber",
        "above90": "red",
        "better": "green",
    }
    assert got[["expected", "lower", "upper"]].to_numpy()[0] == pytest.approx([9, 8.2, 11.4])


def test_when_higher_is_better_the_band_is_mirrored() -> None:
    model = tiny(better="higher")
    # Intake 10, session 2: red below q10 8.2, amber below q25 8.5.
    new = long({"low": [10, 8], "lower": [10, 8.4], "fine": [10, 9]})
    got = flag(model, new, at=2)
    assert dict(zip(got["id"], got["status"], strict=True)) == {"low": "red", "lower": "amber", "fine": "green"}


def test_intakes_are_rounded_half_up_and_held_within_the_grid_and_late_sessions_use_the_last() -> None:
    model = tiny()
    new = long({"x": [9.5, 9], "y": [2, 9], "z": [10, 9, 9, 9, 9]})
    got = flag(model, new)
    # 9.5 rounds to 10 -> grid 10; 2 is held at 10; sessions 3-5 use session 2's band.
    assert got.groupby("id")["expected"].apply(list).to_dict() == {
        "x": [11, 9],
        "y": [11, 9],
        "z": [11, 9, 9, 9, 9],
    }


def test_clients_without_an_intake_score_and_rows_without_a_score_are_left_out() -> None:
    model = tiny()
    new = long({"no-intake": [math.nan, 9], "gap": [10, math.nan, 9]})
    got = flag(model, new)
    assert list(zip(got["id"], got["time"], strict=True)) == [("gap", 1), ("gap", 3)]


def test_clients_without_an_intake_in_the_history_are_counted_and_not_used() -> None:
    model = fit(long({**TINY, "E": [math.nan, 30]}), neighbours=3, min_clients=3)
    assert (model.n_clients_, model.n_skipped_) == (4, 1)
    assert model.intakes_[-1] == 20


# --- a realistic history ------------------------------------------------------------------------------------


def history(clients: int = 60, sessions: int = 8, seed: int = 1) -> pd.DataFrame:
    """Clients whose scores fall about 1 point a session from an intake between 10 and 27, with noise."""
    rng = np.random.default_rng(seed)
    intakes = rng.integers(10, 28, size=clients)
    rows = []
    for number, intake in enumerate(intakes):
        for session in range(1, sessions + 1):
            value = intake if session == 1 else intake - (session - 1) + rng.normal(0, 2)
            rows.append({"id": f"c{number}", "time": session, "score": float(value)})
    return pd.DataFrame(rows)


MODEL = fit(history(), min_clients=30, neighbours=25)


@settings(max_examples=50, deadline=None)
@given(intake=st.integers(10, 27), session=st.integers(2, 8), worse_by=st.floats(15, 50))
def test_a_client_on_the_median_path_is_green_and_far_worse_is_red(intake: int, session: int, worse_by: float) -> None:
    expected = float(MODEL.band(intake, sessions=[session])["expected"].iloc[0])
    on_path = long({"on": [float(intake)] + [expected] * (session - 1)})
    assert flag(MODEL, on_path, at=session)["status"].tolist() == ["green"]
    worse = long({"worse": [float(intake)] + [expected + worse_by] * (session - 1)})
    assert flag(MODEL, worse, at=session)["status"].tolist() == ["red"]


def test_a_realistic_history_gives_an_empirical_model_that_states_its_data() -> None:
    document = MODEL.to_json()
    assert document["format"] == FORMAT
    assert document["kind"] == "empirical"
    assert document["data"]["clients"] == 60
    assert document["data"]["observations"] == 480
    assert document["data"]["sessions"] == list(range(1, 9))
    assert document["parameters"]["neighbours"] == 25
    assert document["fitted_at"].endswith("+00:00")
    assert len(document["table"]["rows"]) == 18 * 8


def test_the_band_widens_from_median_to_the_tenth_and_ninetieth_percentiles() -> None:
    band = MODEL.band(20, sessions=range(1, 9))
    assert (band["lower"] <= band["expected"]).all()
    assert (band["expected"] <= band["upper"]).all()
    # The expected path falls about a point a session.
    assert band["expected"].iloc[-1] == pytest.approx(20 - 7, abs=2)


# --- the rational fallback ----------------------------------------------------------------------------------


def test_with_too_few_clients_the_rational_rule_is_used() -> None:
    # Intakes 10 and 14: SD = 2 x sqrt(2), so RC = 1.96 x sqrt(2) x 2 sqrt(2) x sqrt(1 - 0.85) = 7.84 x 0.3873
    # = 3.0364.
    model = fit(long({"a": [10, 9], "b": [14, 12]}))
    assert model.kind_ == "rational"
    assert "fewer than min_clients = 30" in model.reason_
    assert model.reliable_change_ == pytest.approx(7.84 * math.sqrt(0.15))
    assert model.table_ is None
    rc = model.reliable_change_
    new = long(
        {
            "worse": [10, 10 + rc + 0.01],  # reliably worse -> red at once
            "same": [10, 10],  # session 2, before fallback_session 4 -> green
            "stuck": [10, 10, 10, 10 - rc + 0.01],  # session 4, not reliably better -> amber
            "better": [10, 10, 10, 10 - rc - 0.01],  # reliably better -> green
        }
    )
    got = flag(model, new)
    last = got.groupby("id").tail(1).set_index("id")["status"].to_dict()
    assert last == {"better": "green", "same": "green", "stuck": "amber", "worse": "red"}
    row = got[got["id"] == "same"].iloc[-1]
    assert (row["expected"], row["lower"], row["upper"]) == pytest.approx((10, 10 - rc, 10 + rc))


def test_the_fallback_mirrors_when_higher_is_better() -> None:
    model = fit(long({"a": [10, 9], "b": [14, 12]}), better="higher")
    rc = model.reliable_change_
    new = long({"worse": [10, 10 - rc - 0.01], "better": [10, 10, 10, 10 + rc + 0.01], "stuck": [10, 10, 10, 11]})
    last = flag(model, new).groupby("id").tail(1).set_index("id")["status"].to_dict()
    assert last == {"better": "green", "stuck": "amber", "worse": "red"}


def test_enough_clients_but_too_few_at_session_two_also_falls_back() -> None:
    only_intakes = long({f"c{n}": [float(n)] for n in range(40)})
    model = fit(only_intakes)
    assert model.kind_ == "rational"
    assert "session 2" in model.reason_


def test_fewer_than_two_intakes_cannot_be_fitted() -> None:
    with pytest.raises(InputError, match="at least 2 clients"):
        fit(long({"a": [10, 9]}))


def test_parameters_are_checked() -> None:
    frame = long(TINY)
    for bad in (
        {"better": "sideways"},
        {"min_clients": 1},
        {"neighbours": 0},
        {"quantiles": (0.1, 0.5, 0.9)},
        {"quantiles": (0.9, 0.75, 0.5, 0.25, 0.1)},
        {"reliability": 1.0},
        {"random_state": "seed"},
        {"fallback_session": 0},
    ):
        with pytest.raises(ValueError):
            fit(frame, **bad)
    with pytest.raises(ValueError, match="not fitted"):
        flag(ExpectedResponse(), frame)


# --- saving and loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [MODEL, fit(long({"a": [10, 9], "b": [14, 12]}))], ids=["empirical", "rational"])
def test_the_json_round_trip_gives_the_same_model(model: ExpectedResponse) -> None:
    document = json.loads(json.dumps(model.to_json()))
    again = ExpectedResponse.from_json(document)
    assert again.to_json() == model.to_json()
    scores = history(clients=10, seed=9)
    pd.testing.assert_frame_equal(flag(again, scores), flag(model, scores))


def broken(change: str) -> dict[str, Any]:
    """The saved tiny model with one thing changed."""
    document = copy.deepcopy(tiny().to_json())
    if change == "format":
        document["format"] = "alliance-etr/99"
    elif change == "missing":
        del document["data"]["clients"]
    elif change == "type":
        document["parameters"]["neighbours"] = "three"
    elif change == "enum":
        document["parameters"]["better"] = "sideways"
    elif change == "cell":
        document["table"]["rows"][4][3] = "x"
    elif change == "rows":
        document["table"]["rows"].pop()
    elif change == "columns":
        document["table"]["columns"][2] = "p10"
    elif change == "order":
        document["table"]["rows"][0][4] = -100.0
    elif change == "rational-with-table":
        document["kind"] = "rational"
    elif change == "quantiles":
        document["parameters"]["quantiles"] = [0.1, 0.2, 0.3, 0.4, 0.5]
    return document


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("format", "format"),
        ("missing", "data.clients"),
        ("type", "parameters.neighbours"),
        ("enum", "parameters.better"),
        ("cell", "table.rows.4.3"),
        ("rows", "table.rows"),
        ("columns", "table.columns"),
        ("order", "table.rows.0"),
        ("rational-with-table", "table"),
        ("quantiles", "parameters"),
    ],
)
def test_a_damaged_model_names_the_field(change: str, field: str) -> None:
    with pytest.raises(ModelError) as raised:
        ExpectedResponse.from_json(broken(change))
    assert raised.value.field == field
    assert f"field '{field}'" in str(raised.value)


def test_a_model_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ModelError, match="must be a JSON object"):
        ExpectedResponse.from_json([1, 2])  # type: ignore[arg-type]
