"""A client answers through a one-time link: outcome measures at the start, the relationship check-in at the end.

No account, nothing of the record on screen, English or Spanish, exactly one check-in per instrument and stage
however often a flaky phone posts, a clear page for links that cannot be used, and the safety message at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import pytest
from clinic_factories import alliance, gad7, phq9
from django.core import mail
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts.models import User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins import links
from alliance.clinic.checkins.i18n import STRINGS
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity

FORM_KEY = re.compile(r'name="form_key" value="([0-9a-f-]{36})"')


@pytest.fixture
def maria(cast: dict[str, User], make_client: Any) -> Client:
    person: Client = make_client(cast["ana"], code="C-7Q2X")
    ClientIdentity.objects.create(client=person, name="Maria Hidalgo", email="maria@example.org")
    return person


@pytest.fixture
def today(maria: Client) -> Appointment:
    episode = maria.episodes.get()
    return Appointment.objects.create(
        client=maria, episode=episode, therapist=maria.therapist, starts_at=timezone.now(), session_number=1
    )


@pytest.fixture
def token(cast: dict[str, User], today: Appointment) -> str:
    return links.issue_link(today, by=cast["ana"]).token


def url(token: str, page: str = "") -> str:
    return reverse("checkin", args=[token]) + (f"?page={page}" if page else "")


def fields(instrument_id: str, answers: Mapping[str, Any]) -> dict[str, str]:
    return {f"{instrument_id}:{item}": str(value) for item, value in answers.items() if value is not None}


def form_key(response: Any) -> str:
    found = FORM_KEY.search(response.content.decode())
    assert found, "the form carries its idempotency key"
    return found.group(1)


def post_start(web: WebClient, token: str, *, key: str, phq: Mapping[str, Any], gad: Mapping[str, Any]) -> Any:
    data = {"stage": "start", "form_key": key, **fields("phq9", phq), **fields("gad7", gad)}
    return web.post(url(token), data)


def post_end(web: WebClient, token: str, *, key: str, answers: Mapping[str, Any]) -> Any:
    return web.post(url(token), {"stage": "end", "form_key": key, **fields("alliance-client", answers)})


def text(response: Any) -> str:
    return str(response.content.decode())


def checkins(person: Client) -> list[tuple[str, float | None]]:
    return list(CheckIn.objects.filter(client=person).order_by("pk").values_list("instrument", "total"))


# The whole flow ------------------------------------------------------------------------------------------------


def test_a_client_completes_the_check_in_in_english(client: WebClient, maria: Client, token: str) -> None:
    start = client.get(url(token))
    assert start.status_code == 200
    assert '<html lang="en">' in text(start) and 'class="client"' in text(start)
    assert "Little interest or pleasure in doing things" in text(start)
    assert "Feeling nervous, anxious, or on edge" in text(start)

    stored = post_start(client, token, key=form_key(start), phq=phq9(1), gad=gad7(2))
    assert stored.status_code == 302 and stored["Location"] == url(token)

    between = client.get(url(token))
    assert "you will answer a few short questions about how the session went" in text(between)
    assert "Your safety matters" not in text(between)
    assert url(token, "questions") in text(between).replace("&amp;", "&")

    end = client.get(url(token, "questions"))
    assert "Today I felt I could trust my therapist." in text(end)
    assert 'class="scale"' in text(end) and "0 = Not at all true" in text(end) and "10 = Completely true" in text(end)

    thanks = post_end(client, token, key=form_key(end), answers=alliance(9, culture=7))
    assert thanks.status_code == 200 and "Your answers have been sent" in text(thanks)

    # PHQ-9: 8 items at 1, item 9 at 0 -> 8 (mild); GAD-7: 7 x 2 -> 14 (moderate); alliance: mean (7 x 9 + 7) / 8.
    assert checkins(maria) == [("phq9", 8.0), ("gad7", 14.0), ("alliance-client", 8.75)]
    rows = CheckIn.objects.filter(client=maria)
    assert {
        (row.severity, row.source, row.respondent, row.language) for row in rows if row.instrument != "alliance-client"
    } == {
        ("mild", "link", "client", "en"),
        ("moderate", "link", "client", "en"),
    }
    assert all(row.appointment_id == CheckinLink.objects.get().appointment_id for row in rows)
    link = CheckinLink.objects.get()
    assert link.stage == "done" and link.used_at is not None

    assert client.get(url(token)).status_code == 410  # the link worked once


def test_a_client_completes_the_check_in_in_spanish(client: WebClient, cast: dict[str, User], make_client: Any) -> None:
    lucia = make_client(cast["ana"], code="C-ES01", language="es")
    appointment = Appointment.objects.create(
        client=lucia, episode=lucia.episodes.get(), therapist=cast["ana"], starts_at=timezone.now(), session_number=1
    )
    token = links.issue_link(appointment, by=cast["ana"]).token

    start = client.get(url(token))
    page = text(start)
    assert '<html lang="es">' in page
    assert "Antes de su sesión" in page and "Enviar mis respuestas" in page
    # PHQ-9 and GAD-7 are English-only for now: shown in English, marked as English, with a note in Spanish.
    assert page.count("Por ahora, este cuestionario solo está disponible en inglés.") == 2
    assert '<section aria-labelledby="h-phq9" lang="en">' in page
    assert "Little interest or pleasure in doing things" in page

    post_start(client, token, key=form_key(start), phq=phq9(2), gad=gad7(1))
    assert "Gracias — hasta el final de la sesión" in text(client.get(url(token)))

    end = client.get(url(token, "questions"))
    assert "Hoy sentí que podía confiar en mi terapeuta." in text(end)
    assert "0 = Nada cierto" in text(end) and "solo está disponible en inglés" not in text(end)
    thanks = post_end(client, token, key=form_key(end), answers=alliance(10))
    assert "Sus respuestas se enviaron" in text(thanks) and '<html lang="es">' in text(thanks)

    assert checkins(lucia) == [("phq9", 16.0), ("gad7", 7.0), ("alliance-client", 10.0)]
    assert set(CheckIn.objects.filter(client=lucia).values_list("language", flat=True)) == {"es"}


def test_the_client_chooses_the_language_and_later_pages_keep_it(client: WebClient, token: str, maria: Client) -> None:
    assert '<html lang="en">' in text(client.get(url(token)))

    switched = client.post(url(token), {"action": "language", "language": "es", "page": ""})

    assert switched.status_code == 302
    assert '<html lang="es">' in text(client.get(url(token)))
    assert CheckinLink.objects.get().language == "es"
    maria.refresh_from_db()
    assert maria.language == "en"  # the record is not changed by a choice on one link


def test_nothing_of_the_clients_record_is_shown(
    client: WebClient, cast: dict[str, User], maria: Client, make_client: Any, token: str
) -> None:
    pages = [client.get(url(token))]
    post_start(client, token, key=form_key(pages[0]), phq=phq9(1), gad=gad7(1))
    pages += [client.get(url(token)), client.get(url(token, "questions"))]
    pages.append(post_end(client, token, key=form_key(pages[-1]), answers=alliance(8)))

    for page in pages:
        body = text(page)
        for secret in ("Maria", "Hidalgo", "maria@example.org", maria.code, "ana", "Log out", "Caseload"):
            assert secret not in body


def test_client_pages_are_accessible_without_javascript(client: WebClient, token: str) -> None:
    page = text(client.get(url(token)))

    assert "<script" not in page and " style=" not in page
    # One fieldset with a legend per item (PHQ-9: 10 with the difficulty question; GAD-7: 7), a label per radio.
    assert page.count('<fieldset class="question"') == 17 and page.count("<legend>") == 17
    radio_ids = re.findall(r'<input type="radio" id="([^"]+)"', page)
    assert len(radio_ids) == 17 * 4
    assert all(f'<label for="{radio_id}">' in page for radio_id in radio_ids)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


# Exactly once --------------------------------------------------------------------------------------------------


def test_the_start_stage_posted_twice_with_the_same_key_stores_once(
    client: WebClient, maria: Client, token: str
) -> None:
    key = form_key(client.get(url(token)))

    first = post_start(client, token, key=key, phq=phq9(1), gad=gad7(1))
    second = post_start(client, token, key=key, phq=phq9(1), gad=gad7(1))

    assert first.status_code == second.status_code == 302
    assert second["Location"] == url(token)  # answered with the next page
    assert checkins(maria) == [("phq9", 8.0), ("gad7", 7.0)]


def test_the_start_stage_posted_again_from_a_fresh_form_stores_nothing_new(
    client: WebClient, maria: Client, token: str
) -> None:
    first_key = form_key(client.get(url(token)))
    second_key = form_key(client.get(url(token)))  # e.g. the page opened twice, or reloaded before sending
    assert first_key != second_key

    post_start(client, token, key=first_key, phq=phq9(1), gad=gad7(1))
    again = post_start(client, token, key=second_key, phq=phq9(3), gad=gad7(3))

    assert again.status_code == 302
    assert checkins(maria) == [("phq9", 8.0), ("gad7", 7.0)]


def test_the_end_stage_posted_twice_stores_once_and_thanks_both_times(
    client: WebClient, maria: Client, token: str
) -> None:
    post_start(client, token, key=form_key(client.get(url(token))), phq=phq9(0), gad=gad7(0))
    end_page = client.get(url(token, "questions"))
    key = form_key(end_page)
    other_key = form_key(client.get(url(token, "questions")))

    first = post_end(client, token, key=key, answers=alliance(9))
    same_key = post_end(client, token, key=key, answers=alliance(9))
    new_key = post_end(client, token, key=other_key, answers=alliance(2))

    assert first.status_code == same_key.status_code == new_key.status_code == 200
    assert "Your answers have been sent" in text(same_key) and "Your answers have been sent" in text(new_key)
    assert [row for row in checkins(maria) if row[0] == "alliance-client"] == [("alliance-client", 9.0)]


def test_a_stage_cannot_be_stored_twice_even_through_the_service(cast: dict[str, User], today: Appointment) -> None:
    issued = links.issue_link(today, by=cast["ana"])
    answers = {"phq9": phq9(1), "gad7": gad7(1)}

    first = links.complete_stage(
        issued.link, stage="start", answers=answers, form_key="00000000-0000-4000-8000-000000000001", language="en"
    )
    # A second request that loaded the link before the first one stored it (a stale copy of the link).
    stale = CheckinLink.objects.get(pk=issued.link.pk)
    stale.stage = "start"
    second = links.complete_stage(
        stale, stage="start", answers=answers, form_key="00000000-0000-4000-8000-000000000002", language="en"
    )

    assert first.advanced and not second.advanced
    assert CheckIn.objects.filter(appointment=today).count() == 2


def test_the_idempotency_key_names_the_link_the_instrument_and_the_form(
    client: WebClient, token: str, maria: Client
) -> None:
    key = form_key(client.get(url(token)))
    post_start(client, token, key=key, phq=phq9(1), gad=gad7(1))

    link = CheckinLink.objects.get()
    assert set(CheckIn.objects.values_list("idempotency_key", flat=True)) == {
        f"{link.pk}:phq9:{key}",
        f"{link.pk}:gad7:{key}",
    }


# Missing and tampered answers ------------------------------------------------------------------------------------


def test_unanswered_items_are_allowed_and_scored_by_the_missing_data_rule(
    client: WebClient, maria: Client, token: str
) -> None:
    answers: dict[str, Any] = {f"phq9_{i}": 2 for i in range(1, 8)} | {"phq9_9": 0}  # item 8 left blank

    post_start(client, token, key=form_key(client.get(url(token))), phq=answers, gad={})

    # Published proration: mean of the 8 answered (14 / 8) x 9 = 15.75, rounded half up to 16; GAD-7 not stored.
    row = CheckIn.objects.get(client=maria)
    assert (row.instrument, row.total, row.status, row.answers["phq9_8"]) == ("phq9", 16.0, "prorated", None)


@pytest.mark.parametrize(
    "tampered",
    [
        {"phq9:phq9_1": "7"},
        {"phq9:phq9_1": "abc"},
        {"phq9:phq9_1": "1.5"},
        {"gad7:gad7_3": "-1"},
        {"phq9:phq9_1": ["1", "2"]},
    ],
)
def test_tampered_answers_are_refused_and_nothing_is_stored(
    client: WebClient, maria: Client, token: str, tampered: dict[str, Any]
) -> None:
    data: dict[str, Any] = {"stage": "start", "form_key": form_key(client.get(url(token)))}
    data |= fields("phq9", phq9(1)) | fields("gad7", gad7(1)) | tampered

    response = client.post(url(token), data)

    assert response.status_code == 422
    assert "We could not read this answer" in text(response) and "Nothing has been saved yet." in text(response)
    assert 'role="alert"' in text(response)
    assert not CheckIn.objects.exists()
    assert CheckinLink.objects.get().stage == "start"
    # What the client had chosen is kept (they only fix the marked question).
    assert 'name="gad7:gad7_2" value="1" checked' in text(response)


def test_a_form_with_no_answer_at_all_asks_for_one(client: WebClient, token: str) -> None:
    response = client.post(url(token), {"stage": "start", "form_key": form_key(client.get(url(token)))})

    assert response.status_code == 422
    assert "You have not answered any question yet" in text(response)
    assert not CheckIn.objects.exists()


def test_a_form_without_its_key_is_refused(client: WebClient, token: str) -> None:
    response = client.post(url(token), {"stage": "start", **fields("phq9", phq9(1))})

    assert response.status_code == 422
    assert not CheckIn.objects.exists()


# Links that cannot be used -------------------------------------------------------------------------------------


def test_an_unknown_link_says_so_in_both_languages(client: WebClient, db: Any) -> None:
    for token in ("not-a-real-token", "x" * 500):
        response = client.get(url(token))
        assert response.status_code == 404
        assert "We could not find this link" in text(response) and "No encontramos este enlace" in text(response)
        assert "ask your therapist" in text(response) and "pídale a su terapeuta" in text(response)


def test_an_expired_link_is_gone(client: WebClient, token: str) -> None:
    CheckinLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    shown = client.get(url(token))
    posted = post_start(client, token, key="00000000-0000-4000-8000-000000000003", phq=phq9(1), gad=gad7(1))

    assert shown.status_code == posted.status_code == 410
    assert "This link has expired" in text(shown) and "Este enlace ya venció" in text(shown)
    assert not CheckIn.objects.exists()


def test_a_used_link_is_gone(client: WebClient, token: str) -> None:
    CheckinLink.objects.update(stage="done", used_at=timezone.now())

    response = client.get(url(token))

    assert response.status_code == 410
    assert "This check-in is already complete" in text(response)
    assert "Este cuestionario ya está completo" in text(response)


def test_a_link_expiring_between_the_stages_keeps_what_was_stored(client: WebClient, maria: Client, token: str) -> None:
    post_start(client, token, key=form_key(client.get(url(token))), phq=phq9(1), gad=gad7(1))
    end_key = form_key(client.get(url(token, "questions")))
    CheckinLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    late = post_end(client, token, key=end_key, answers=alliance(9))

    assert late.status_code == 410
    assert checkins(maria) == [("phq9", 8.0), ("gad7", 7.0)]


# Safety ----------------------------------------------------------------------------------------------------------


def test_a_risk_answer_shows_the_safety_message_and_flags_the_therapist_at_once(
    client: WebClient, cast: dict[str, User], maria: Client, token: str, django_capture_on_commit_callbacks: Any
) -> None:
    maria.practice.crisis_message_en = "Call the Northside crisis line on 0800 123 456, day or night."
    maria.practice.save()
    key = form_key(client.get(url(token)))

    with django_capture_on_commit_callbacks(execute=True):
        stored = post_start(client, token, key=key, phq=phq9(1, item9=2), gad=gad7(1))

    assert stored.status_code == 302
    safety = text(client.get(url(token)))
    assert "Your safety matters" in safety and 'class="safety"' in safety
    assert "Call the Northside crisis line on 0800 123 456, day or night." in safety
    assert "Your therapist has been told about your answer" in safety
    assert "The session has ended — continue" in safety  # then the client carries on

    alert = Alert.objects.get(client=maria)
    assert alert.kind == "risk"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [cast["ana"].email]
    assert maria.code in message.subject
    for answer_text in ("better off dead", "phq9_9", "Little interest", "Maria"):
        assert answer_text not in message.subject + message.body


def test_the_safety_message_is_in_the_clients_language(
    client: WebClient, cast: dict[str, User], make_client: Any
) -> None:
    lucia = make_client(cast["ana"], code="C-ES02", language="es")
    appointment = Appointment.objects.create(
        client=lucia, episode=lucia.episodes.get(), therapist=cast["ana"], starts_at=timezone.now(), session_number=1
    )
    token = links.issue_link(appointment, by=cast["ana"]).token

    post_start(client, token, key=form_key(client.get(url(token))), phq=phq9(0, item9=1), gad=gad7(0))

    safety = text(client.get(url(token)))
    assert lucia.practice.crisis_message_es in safety
    assert "Ya le avisamos a su terapeuta sobre su respuesta" in safety


def test_no_safety_message_without_a_risk_answer(client: WebClient, token: str) -> None:
    post_start(client, token, key=form_key(client.get(url(token))), phq=phq9(3), gad=gad7(3))

    assert "Your safety matters" not in text(client.get(url(token)))
    assert not Alert.objects.exists()


# Audit -----------------------------------------------------------------------------------------------------------


def test_each_stored_check_in_is_audited_as_the_clients_own(client: WebClient, maria: Client, token: str) -> None:
    post_start(client, token, key=form_key(client.get(url(token))), phq=phq9(1), gad=gad7(1))

    events = AuditEvent.objects.filter(action="create", object_type="CheckIn")
    assert events.count() == 2
    assert {(event.actor, event.user_id, event.client_id) for event in events} == {("client-link", None, maria.pk)}


def test_every_ui_string_exists_in_both_languages() -> None:
    for key, texts in STRINGS.items():
        assert set(texts) == {"en", "es"}, key
        assert all(value.strip() for value in texts.values()), key


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_posts_of_a_stage_store_it_once(cast: dict[str, User], today: Appointment) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE); the race needs a database server")
    issued = links.issue_link(today, by=cast["ana"])
    both_ready = Barrier(2)

    def post(key: str) -> bool:
        try:
            link = CheckinLink.objects.select_related("client", "appointment").get(pk=issued.link.pk)
            both_ready.wait(timeout=10)
            answers = {"phq9": phq9(1), "gad7": gad7(1)}
            return links.complete_stage(link, stage="start", answers=answers, form_key=key, language="en").advanced
        finally:
            connection.close()

    keys = ["00000000-0000-4000-8000-0000000000b1", "00000000-0000-4000-8000-0000000000b2"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        advanced = sorted(pool.map(post, keys))

    assert advanced == [False, True]
    assert CheckIn.objects.filter(appointment=today).count() == 2  # one PHQ-9, one GAD-7
