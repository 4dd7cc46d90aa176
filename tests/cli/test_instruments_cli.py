"""`alliance instruments list|show` and `alliance score`: the contracts, every bad input, and a round trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from alliance.cli import app
from alliance.instruments import ENVIRONMENT_VARIABLE

PHQ9_ITEMS = [f"phq9_{n}" for n in range(1, 10)]


@pytest.fixture(autouse=True)
def no_site_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test with the bundled instruments only, whatever the developer's environment says."""
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def write_csv(path: Path, header: list[str], *rows: list[str]) -> Path:
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n", encoding="utf-8")
    return path


def rows_of(result: Result) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(result.stdout)))


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def shown_item_ids(result: Result) -> list[str]:
    """Read the item ids from the Items section of `instruments show`."""
    lines = result.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Items"))
    ids = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        ids.append(line.split()[0])
    return ids


# --- instruments list / show ----------------------------------------------------------------------------


def test_list_prints_one_row_per_instrument_with_the_id_first() -> None:
    result = run("instruments", "list")
    assert result.exit_code == 0
    header, *rows = result.stdout.strip().splitlines()
    assert header.split("\t") == ["id", "version", "items", "title", "licence"]
    assert [row.split()[0] for row in rows] == [
        "alliance-client",
        "alliance-followup",
        "alliance-therapist",
        "gad7",
        "phq9",
    ]
    assert rows[4].split("\t") == [
        "phq9",
        "1.0.0",
        "10",
        "Patient Health Questionnaire (PHQ-9)",
        "Pfizer, free to reproduce",
    ]


def test_show_prints_items_options_scoring_bands_risk_loinc_licence_and_citation() -> None:
    result = run("instruments", "show", "phq9")
    assert result.exit_code == 0
    out = result.stdout
    assert shown_item_ids(result) == [*PHQ9_ITEMS, "phq9_difficulty"]
    assert "phq9_9  Thoughts that you would be better off dead" in out
    assert "    2  More than half the days  [LOINC LA6570-1]" in out
    assert "total  PHQ-9 total score: sum of 9 items" in out and "up to 2 missing prorated" in out
    assert "Source: Arrieta J" in out
    assert "  10 to 14  moderate  Moderate" in out
    assert "  phq9_9 > 0  risk.self_harm_thoughts" in out
    assert "LOINC: panel 44249-1, total 44261-6" in out
    assert "Licence: Pfizer, free to reproduce (may be redistributed: yes)" in out
    assert "Citation: Kroenke K" in out


def test_show_prints_spanish_texts_and_marks_our_check_in_as_not_yet_validated() -> None:
    result = run("instruments", "show", "alliance-client", "--lang", "es")
    assert result.exit_code == 0
    assert "validated: NOT YET VALIDATED" in result.stdout
    assert "  bond  Hoy sentí que podía confiar en mi terapeuta." in result.stdout
    assert "  0 to under 8  below-cutoff" in result.stdout


def test_show_an_unknown_id_exits_2_listing_the_known_ids() -> None:
    assert one_line_error(run("instruments", "show", "srs")) == (
        "alliance: error: unknown instrument 'srs' "
        "(known: alliance-client, alliance-followup, alliance-therapist, gad7, phq9)"
    )


def test_show_a_language_the_instrument_lacks_exits_2() -> None:
    assert one_line_error(run("instruments", "show", "phq9", "--lang", "es")) == (
        "alliance: error: instrument phq9 has no 'es' texts (languages: en)"
    )


# --- score ---------------------------------------------------------------------------------------------------


def test_score_passes_other_columns_through_and_appends_the_scores(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "phq9.csv",
        ["client", *PHQ9_ITEMS, "date"],
        ["c1", *["1"] * 9, "2024-01-08"],
        ["c1", "3", "3", "3", "3", "3", "3", "3", "", "", "2024-01-15"],
        ["c2", "0", "0", "", "", "", "0", "0", "0", "2", "2024-01-09"],
    )
    result = run("score", "phq9", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "client,date,total,severity,risk,status",
        "c1,2024-01-08,9,mild,true,ok",
        "c1,2024-01-15,27,severe,false,prorated",
        "c2,2024-01-09,,,true,insufficient",
    ]


def test_score_prints_subscales_and_means_with_up_to_four_decimals(tmp_path: Path) -> None:
    header = ["id", "bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall"]
    path = write_csv(tmp_path / "client.csv", header, ["a", "8", "7", "10", "9", "9", "", "10", "6"])
    [row] = rows_of(run("score", "alliance-client", str(path)))
    assert row == {
        "id": "a",
        "total": "8.4286",
        "connection": "8.3333",
        "agreement": "9",
        "culture_safety": "",
        "severity": "at-or-above-cutoff",
        "risk": "false",
        "status": "prorated",
    }


def test_score_with_only_a_header_writes_only_the_header(tmp_path: Path) -> None:
    result = run("score", "gad7", str(write_csv(tmp_path / "empty.csv", [f"gad7_{n}" for n in range(1, 8)])))
    assert result.exit_code == 0
    assert result.stdout == "total,severity,risk,status\n"


def test_round_trip_show_lists_the_ids_a_csv_uses_them_and_score_reads_it(tmp_path: Path) -> None:
    for instrument_id in ("phq9", "gad7", "alliance-client", "alliance-therapist"):
        ids = shown_item_ids(run("instruments", "show", instrument_id))
        path = write_csv(tmp_path / f"{instrument_id}.csv", ["session", *ids], ["1", *["2"] * len(ids)])
        [row] = rows_of(run("score", instrument_id, str(path)))
        assert row["session"] == "1" and row["status"] == "ok", instrument_id
        assert float(row["total"]) > 0


def test_score_an_unknown_id_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["x"], ["1"])
    assert "unknown instrument 'wai'" in one_line_error(run("score", "wai", str(path)))


def test_score_a_missing_file_exits_2(tmp_path: Path) -> None:
    assert one_line_error(run("score", "phq9", str(tmp_path / "nope.csv"))).endswith("nope.csv: file not found")


def test_score_names_a_missing_item_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["client", *PHQ9_ITEMS[:8]], ["c1", *["1"] * 8])
    line = one_line_error(run("score", "phq9", str(path)))
    assert line.startswith(f"alliance: error: {path}, column 'phq9_9': missing item column")


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("often", "not a number: 'often'"),
        ("4", "value '4' is out of range (0 to 3)"),
        ("-1", "value '-1' is out of range (0 to 3)"),
        ("1.5", "not a whole number: '1.5' (allowed: 0, 1, 2, 3)"),
    ],
)
def test_score_names_file_row_and_column_of_a_bad_answer(tmp_path: Path, cell: str, message: str) -> None:
    path = write_csv(
        tmp_path / "a.csv", ["client", *PHQ9_ITEMS], ["c1", *["1"] * 9], ["c2", "1", "1", cell, *["1"] * 6]
    )
    assert one_line_error(run("score", "phq9", str(path))) == (
        f"alliance: error: {path}, row 2 (line 3), column 'phq9_3': {message}"
    )


def test_score_refuses_a_passed_through_column_named_like_a_score_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["total", *PHQ9_ITEMS], ["5", *["1"] * 9])
    assert one_line_error(run("score", "phq9", str(path))) == (
        f"alliance: error: {path}, column 'total': column name clashes with a score column of the output; rename it"
    )


# --- a site's own instrument, through the environment variable ----------------------------------------------

SITE = {
    "id": "site-steps",
    "title": {"en": "Site steps (test)"},
    "version": "0.1",
    "citation": "Invented for a test.",
    "licence": {"name": "Site licence", "text": "Used under the site's licence.", "redistributable": False},
    "languages": ["en"],
    "instructions": {"en": "Pick a step."},
    "response_sets": {"steps": [{"value": 0}, {"value": 5}, {"value": 10}]},
    "items": [{"id": f"s{n}", "text": {"en": f"Made-up line {n}."}, "responses": "steps"} for n in (1, 2, 3)],
    "scales": [
        {
            "id": "total",
            "title": {"en": "Total"},
            "items": ["s1", "s2", "s3"],
            "method": "sum",
            "range": {"min": 0, "max": 30},
            "max_missing": 0,
        }
    ],
    "missing_data": {"rule": "none", "rounding": "none", "description": "None missing.", "source": "Test."},
    "validated": False,
    "validation_note": "Test fixture.",
}


def site_env(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "steps.yaml").write_text(yaml.safe_dump(SITE), encoding="utf-8")
    return {ENVIRONMENT_VARIABLE: str(folder)}


def test_a_site_instrument_is_listed_shown_and_scored(tmp_path: Path) -> None:
    env = site_env(tmp_path)
    assert run("instruments", "list", env=env).stdout.splitlines()[-1].startswith("site-steps\t0.1\t3\t")
    assert "may be redistributed: no" in run("instruments", "show", "site-steps", env=env).stdout
    path = write_csv(tmp_path / "steps.csv", ["s1", "s2", "s3"], ["5", "10", "0"])
    assert rows_of(run("score", "site-steps", str(path), env=env)) == [
        {"total": "15", "severity": "", "risk": "false", "status": "ok"}
    ]


def test_score_refuses_a_value_between_the_allowed_options(tmp_path: Path) -> None:
    env = site_env(tmp_path)
    path = write_csv(tmp_path / "steps.csv", ["s1", "s2", "s3"], ["5", "7", "0"])
    assert one_line_error(run("score", "site-steps", str(path), env=env)) == (
        f"alliance: error: {path}, row 1 (line 2), column 's2': value '7' is not an allowed answer (allowed: 0, 5, 10)"
    )


def test_a_broken_site_definition_stops_the_command_with_its_file_and_path(tmp_path: Path) -> None:
    env = site_env(tmp_path)
    broken = dict(SITE, id="phq9")
    (Path(env[ENVIRONMENT_VARIABLE]) / "steps.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    line = one_line_error(run("instruments", "list", env=env))
    assert "steps.yaml: $.id: instrument id 'phq9' is already defined by bundled:phq9.yaml" in line
