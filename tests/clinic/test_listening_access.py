"""Who sees transcripts: the treating therapist; the supervisor only while consent is recorded; nobody else.
Every upload, view, delete and consent change is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client as Browser
from listening_support import TINY, ScriptedLabeller

from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.listening.models import Analysis, SessionTranscript, SupervisionConsent
from alliance.clinic.listening.service import attach
from alliance.clinic.listening.worker import claim, run_job


@pytest.fixture
def analysed(cast: dict[str, Any], make_client: Any) -> SessionTranscript:
    client = make_client(cast["ana"], code="C-LISTEN", sessions=[{}, {}])
    stored = attach(client.appointments.order_by("starts_at").last(), TINY, by=cast["ana"], file_name="tiny.txt")
    job = claim("test")
    assert job is not None
    run_job(job, ScriptedLabeller, worker="test")
    return stored


def as_user(user: Any) -> Browser:
    browser = Browser()
    browser.force_login(user)
    return browser


def visible_usernames(stored: SessionTranscript, cast: dict[str, Any]) -> set[str]:
    return {name for name, user in cast.items() if SessionTranscript.objects.visible_to(user).filter(pk=stored.pk)}


def test_only_the_treating_therapist_without_consent(analysed: SessionTranscript, cast: dict[str, Any]) -> None:
    assert visible_usernames(analysed, cast) == {"ana"}
    assert set(SessionTranscript.objects.treated_by(cast["ana"])) == {analysed}
    assert not SessionTranscript.objects.treated_by(cast["cleo"]).exists()


def test_consent_given_then_withdrawn_opens_and_closes_the_supervisors_view(
    analysed: SessionTranscript, cast: dict[str, Any]
) -> None:
    ana, cleo = as_user(cast["ana"]), as_user(cast["cleo"])
    feedback_url = f"/transcripts/{analysed.pk}/feedback/"
    assert cleo.get(feedback_url).status_code == 404
    page = cleo.get(f"/clients/{analysed.client_id}/")
    assert b"only while the client's consent to supervision is recorded" in page.content

    assert ana.post(f"/clients/{analysed.client_id}/supervision-consent/", {"given": "yes"}).status_code == 302
    assert visible_usernames(analysed, cast) == {"ana", "cleo"}
    response = cleo.get(feedback_url)
    assert response.status_code == 200 and b"Reflections per question" in response.content
    assert cleo.post(f"/transcripts/{analysed.pk}/delete/").status_code == 404  # seeing is not changing
    assert as_user(cast["dara"]).get(feedback_url).status_code == 404  # the practice admin never
    assert as_user(cast["ben"]).get(feedback_url).status_code == 404

    assert ana.post(f"/clients/{analysed.client_id}/supervision-consent/", {"given": "no"}).status_code == 302
    assert cleo.get(feedback_url).status_code == 404
    history = list(SupervisionConsent.objects.filter(client_id=analysed.client_id).values_list("given", "recorded_by"))
    assert history == [(True, cast["ana"].pk), (False, cast["ana"].pk)]
    page = as_user(cast["ana"]).get(f"/clients/{analysed.client_id}/")
    assert b"Consent to supervision of transcripts: <strong>not given</strong>" in page.content
    assert b"recorded by Ana" in page.content


def test_the_supervisor_cannot_record_consent_for_herself(analysed: SessionTranscript, cast: dict[str, Any]) -> None:
    response = as_user(cast["cleo"]).post(f"/clients/{analysed.client_id}/supervision-consent/", {"given": "yes"})
    assert response.status_code == 403
    assert not SupervisionConsent.objects.exists()


def test_views_uploads_deletes_and_consent_changes_are_audited(cast: dict[str, Any], make_client: Any) -> None:
    client = make_client(cast["ana"], code="C-AUDIT", sessions=[{}])
    appointment = client.appointments.get()
    ana = as_user(cast["ana"])
    upload = ana.post(
        f"/appointments/{appointment.pk}/transcript/",
        {"file": _file(TINY), "format": "auto", "speakers": ""},
    )
    assert upload.status_code == 302
    stored = SessionTranscript.objects.get()
    ana.get(f"/transcripts/{stored.pk}/")
    ana.post(f"/clients/{client.pk}/supervision-consent/", {"given": "yes"})
    ana.post(f"/transcripts/{stored.pk}/delete/")
    events = list(
        AuditEvent.objects.filter(client_id=client.pk)
        .exclude(object_type__in=["Client", "Appointment"])
        .values_list("action", "object_type")
    )
    assert events == [
        ("create", "SessionTranscript"),
        ("read", "SessionTranscript"),
        ("update", "SupervisionConsent"),
        ("delete", "SessionTranscript"),
    ]
    assert not SessionTranscript.objects.exists() and not Analysis.objects.exists()


def _file(text: str, name: str = "session.txt") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/plain")
