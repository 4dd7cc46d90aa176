"""Each practice chooses which monitoring rules raise alerts and their thresholds; the practice admin edits them in
the Django admin, only for their own practice; the risk rule cannot be switched off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, phq9
from django.test import Client as WebClient
from django.utils import timezone

from alliance.clinic.accounts.models import User
from alliance.clinic.alerts.models import Alert, MonitoringSettings
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.checkins.service import submit_checkin
from alliance.clinic.practice.models import Appointment, Client, Practice
from alliance.monitoring.evaluate import RuleSettings

STEADY = [{"phq9": phq9(2), "alliance-client": alliance(9)}] * 4
DROP = alliance(9, goals=3, tasks=6)
ADMIN = "/admin/alerts/monitoringsettings/"


def fifth(client: Client, answers: Mapping[str, Mapping[str, int]]) -> None:
    appointment = Appointment.objects.create(
        client=client,
        episode=client.episodes.get(),
        therapist=client.therapist,
        starts_at=timezone.now() - dt.timedelta(hours=1),
        session_number=5,
        status=Appointment.Status.ATTENDED,
    )
    for instrument, values in answers.items():
        submit_checkin(
            client=client,
            instrument_id=instrument,
            answers=values,
            source=CheckIn.Source.STAFF,
            appointment=appointment,
        )


def kinds(client: Client) -> set[str]:
    return set(Alert.objects.filter(client=client).values_list("kind", flat=True))


def test_a_practice_gets_the_default_settings_on_first_use(practice: Practice) -> None:
    chosen = MonitoringSettings.for_practice(practice.pk)
    assert MonitoringSettings.for_practice(practice.pk).pk == chosen.pk  # one row per practice
    assert chosen.rules() == RuleSettings()  # the defaults are the monitoring package's own


def test_the_settings_map_onto_the_rules_of_evaluate(practice: Practice) -> None:
    chosen = MonitoringSettings.for_practice(practice.pk)
    chosen.rupture = chosen.dropout = False
    chosen.criterion = MonitoringSettings.Criterion.STRICT
    chosen.between_sd, chosen.domain_between_sd, chosen.gap_at, chosen.floor_at = 1.5, 3.0, 3.0, 2.0
    chosen.repair_window = 2
    rules = chosen.rules()
    assert (rules.risk, rules.rupture, rules.dropout, rules.cutoff, rules.floor) == (True, False, False, True, True)
    assert (rules.criterion, rules.between_sd, rules.domain_between_sd) == ("strict", 1.5, 3.0)
    assert (rules.gap_at, rules.floor_at, rules.repair_window) == (3.0, 2.0, 2)


@pytest.mark.parametrize(
    ("switch", "kind"), [("rupture", "rupture"), ("low_alliance", "low_alliance"), ("floor", "floor")]
)
def test_a_rule_switched_off_raises_no_alert_of_its_kind(
    cast: dict[str, User], make_client: MakeClient, switch: str, kind: str
) -> None:
    MonitoringSettings.objects.create(practice=cast["ana"].practice, **{switch: False})
    client = make_client(cast["ana"], code="C-OFF", sessions=STEADY)
    fifth(client, {"alliance-client": DROP})
    assert kinds(client) == {"rupture", "low_alliance", "floor"} - {kind}


def test_the_risk_rule_has_no_switch(cast: dict[str, User], make_client: MakeClient) -> None:
    assert not hasattr(MonitoringSettings, "risk")
    MonitoringSettings.objects.create(
        practice=cast["ana"].practice,
        **dict.fromkeys(
            ("rupture", "low_alliance", "floor", "sudden_change", "not_on_track", "dropout", "perspective_gap"), False
        ),
    )
    client = make_client(cast["ana"], code="C-RISK", sessions=STEADY)
    fifth(client, {"phq9": phq9(2, item9=1), "alliance-client": DROP})
    assert kinds(client) == {"risk"}


def test_the_strict_criterion_needs_a_deeper_dip(cast: dict[str, User], make_client: MakeClient) -> None:
    wobbly = [{"alliance-client": alliance(v)} for v in (9, 8, 9, 8)]
    lenient = make_client(cast["ana"], code="C-LENIENT", sessions=wobbly)
    fifth(lenient, {"alliance-client": alliance(7)})
    assert "rupture" in kinds(lenient)
    MonitoringSettings.objects.filter(practice=cast["ana"].practice).update(criterion="strict")
    strict = make_client(cast["ana"], code="C-STRICT", sessions=wobbly)
    fifth(strict, {"alliance-client": alliance(7)})
    assert "rupture" not in kinds(strict)


def test_only_the_other_practices_rules_apply_to_its_clients(cast: dict[str, User], make_client: MakeClient) -> None:
    MonitoringSettings.objects.create(practice=cast["eve"].practice, rupture=False)
    mine = make_client(cast["ana"], code="C-MINE", sessions=STEADY)
    theirs = make_client(cast["eve"], code="C-THEIRS", sessions=STEADY)
    fifth(mine, {"alliance-client": DROP})
    fifth(theirs, {"alliance-client": DROP})
    assert "rupture" in kinds(mine) and "rupture" not in kinds(theirs)


# --- the admin -----------------------------------------------------------------------------------------------------


def test_the_practice_admin_edits_their_practices_settings_in_the_admin(
    client: WebClient, cast: dict[str, User]
) -> None:
    MonitoringSettings.for_practice(cast["eve"].practice.pk)  # another practice's row exists
    client.force_login(cast["dara"])
    listing = client.get(ADMIN)
    assert listing.status_code == 200
    mine = MonitoringSettings.objects.get(practice=cast["dara"].practice)  # created on first visit
    theirs = MonitoringSettings.objects.get(practice=cast["eve"].practice)
    html = listing.content.decode()
    assert f"{ADMIN}{mine.pk}/change/" in html and f"{ADMIN}{theirs.pk}/change/" not in html
    form = client.get(f"{ADMIN}{mine.pk}/change/").content.decode()
    assert "a risk item always raises an alert" in form and 'name="risk"' not in form
    data = _form_data(mine, rupture="", criterion="strict", floor_at="3.0")
    response = client.post(f"{ADMIN}{mine.pk}/change/", data)
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.rupture, mine.criterion, mine.floor_at) == (False, "strict", 3.0)
    assert client.get(f"{ADMIN}{theirs.pk}/change/").status_code in (302, 404)  # another practice: not there
    assert client.get(f"{ADMIN}add/").status_code == 403  # one row per practice, made on demand


def test_thresholds_out_of_range_are_refused(client: WebClient, cast: dict[str, User]) -> None:
    mine = MonitoringSettings.for_practice(cast["dara"].practice.pk)
    client.force_login(cast["dara"])
    response = client.post(f"{ADMIN}{mine.pk}/change/", _form_data(mine, floor_at="11", repair_window="0"))
    assert response.status_code == 200  # the form again, with errors
    mine.refresh_from_db()
    assert (mine.floor_at, mine.repair_window) == (4.0, 3)


@pytest.mark.parametrize("who", ["ana", "cleo"])
def test_therapists_and_supervisors_do_not_see_the_settings(client: WebClient, cast: dict[str, User], who: str) -> None:
    client.force_login(cast[who])
    assert client.get(ADMIN).status_code in (302, 403)


def _form_data(row: MonitoringSettings, **changes: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "criterion": row.criterion,
        "between_sd": str(row.between_sd),
        "domain_between_sd": str(row.domain_between_sd),
        "repair_window": str(row.repair_window),
        "gap_at": str(row.gap_at),
        "floor_at": str(row.floor_at),
    }
    for flag in ("rupture", "low_alliance", "floor", "sudden_change", "not_on_track", "milder_alerts", "dropout"):
        if getattr(row, flag):
            data[flag] = "on"
    if row.perspective_gap:
        data["perspective_gap"] = "on"
    for name, value in changes.items():
        if value == "":
            data.pop(name, None)
        else:
            data[name] = value
    return data
