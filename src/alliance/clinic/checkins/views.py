"""Check-in pages: links and kiosk mode (staff), the client's check-in (no account), the therapist's mirror form.

Client pages show nothing of the client's record but the questions being answered; every client-facing string
comes from ``checkins.i18n``. Business rules live in ``checkins.links`` and ``checkins.service``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from alliance.clinic.accounts import lockout
from alliance.clinic.accounts.middleware import KIOSK_KEY
from alliance.clinic.audit.service import record
from alliance.clinic.checkins import links
from alliance.clinic.checkins.forms import (
    InstrumentForm,
    RawAnswers,
    build_form,
    invalid_items,
    new_form_key,
    read_answers,
    read_form_key,
)
from alliance.clinic.checkins.i18n import LANGUAGES, choose_language, language_names, strings
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.checkins.qr import qr_svg
from alliance.clinic.checkins.service import CheckinError, submit_checkin
from alliance.clinic.practice.models import Appointment, Client
from alliance.clinic.registry import instruments

__all__ = ["checkin", "kiosk_locked", "kiosk_start", "kiosk_unlock", "link_create", "therapist_rating"]

MIRROR_INSTRUMENT = "alliance-therapist"
# The one sub-page a stage has: at the ``end`` stage, the questions themselves (else the page between stages).
QUESTIONS_PAGE = "questions"


# Staff: links and kiosk mode ---------------------------------------------------------------------------------


@never_cache
@login_required
@require_POST
def link_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a one-time link for an appointment and show it once, as address and QR code."""
    appointment = get_object_or_404(Appointment.objects.visible_to(request.user).select_related("client"), pk=pk)
    issued = links.issue_link(appointment, by=request.user, request=request)
    context = {
        "appointment": appointment,
        "client": appointment.client,
        "link": issued.link,
        "url": issued.url,
        "qr": qr_svg(issued.url, title="QR code of the check-in link"),
        "minutes": settings.ALLIANCE_CHECKIN_LINK_MINUTES,
    }
    return render(request, "checkins/link_created.html", context)


@login_required
@require_POST
def kiosk_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Put this staff session into kiosk mode for an appointment and open the client's check-in."""
    appointment = get_object_or_404(Appointment.objects.visible_to(request.user), pk=pk)
    issued = links.issue_link(appointment, by=request.user, kiosk=True, request=request)
    links.lock_kiosk(request.session, issued.token)
    return redirect("checkin", token=issued.token)


@never_cache
@require_http_methods(["GET", "HEAD"])
def kiosk_locked(request: HttpRequest) -> HttpResponse:
    """The locked tablet: "hand it back" once the client is done, a way back to the questions until then."""
    locked = links.kiosk_link(request.session)
    if locked is None:
        return redirect("home")
    return _locked_page(request, *locked)


@never_cache
@require_POST
def kiosk_unlock(request: HttpRequest) -> HttpResponse:
    """Clear the kiosk lock with the staff member's password and authenticator code (a wrong one keeps it locked)."""
    locked = links.kiosk_link(request.session)
    if locked is None:
        return redirect("home")
    token, link = locked
    outcome = links.unlock_kiosk(request, request.POST.get("password", ""), request.POST.get("code", ""))
    if outcome == "logged_out":
        return redirect("login")
    if outcome == "wrong":
        error = (
            "That password or code is not right. The tablet stays locked."
            if links.kiosk_needs_code(request.user)
            else "That password is not right. The tablet stays locked."
        )
        return _locked_page(request, token, link, error=error)
    if link is not None and Client.objects.visible_to(request.user).filter(pk=link.client_id).exists():
        return redirect("client-detail", pk=link.client_id)
    return redirect("home")


def _locked_page(
    request: HttpRequest, token: str, link: CheckinLink | None, *, error: str | None = None
) -> HttpResponse:
    done = link is None or links.unavailable_reason(link) is not None
    language = choose_language(link.language if link else None, link.client.language if link else None)
    context = {
        "t": strings(language),
        "page_language": language,
        "done": done,
        "token": None if done else token,
        "error": error,
        "needs_code": links.kiosk_needs_code(request.user),
    }
    return render(request, "checkins/kiosk_locked.html", context, status=403 if error else 200)


# The client's check-in ---------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    """The client's check-in through a one-time link or the clinic tablet; no account, nothing else visible."""
    kiosk_token = request.session.get(KIOSK_KEY)
    if kiosk_token and kiosk_token != token:
        return redirect("kiosk-locked")  # a locked tablet answers its own check-in and nothing else
    # Guessing tokens: unknown tokens from one address are counted; too many pause that address (429).
    guesses = lockout.address(request, "link")
    if lockout.locked_until([guesses]) is not None:
        record(request, "lockout", actor="client-link")
        return _unavailable(request, links.LinkUnavailableError("paused"))
    try:
        link = links.find_link(token)
    except links.LinkUnavailableError as exc:
        if exc.reason == "unknown":
            record(request, "login_failed", actor="client-link")
            if lockout.fail([guesses], "checkin-link") is not None:
                record(request, "lockout", actor="client-link")
        if request.method == "POST" and exc.reason == "used" and exc.link is not None:
            # The last stage posted twice: the first post stored it; answer the second with the same thank-you.
            return _thanks(request, exc.link)
        return _unavailable(request, exc)
    language = choose_language(link.language, link.client.language)
    if request.method == "POST":
        if request.POST.get("action") == "language":
            links.set_language(link, request.POST.get("language", ""))
            return _back_to(token, request.POST.get("page", ""))
        return _submit(request, link, token=token, language=language)
    if link.stage in (CheckinLink.Stage.START, CheckinLink.Stage.FOLLOWUP):
        return _questions(request, link, token=token, language=language, stage=link.stage)
    if request.GET.get("page") == QUESTIONS_PAGE:
        return _questions(request, link, token=token, language=language, stage=CheckinLink.Stage.END)
    return _interlude(request, link, token=token, language=language)


def _submit(request: HttpRequest, link: CheckinLink, *, token: str, language: str) -> HttpResponse:
    stage = request.POST.get("stage", "")
    if stage != link.stage:
        # A stage already stored (double submit, back button) or not yet open: show where the client is now.
        return _back_to(token, "")
    registry = instruments()
    raw: dict[str, RawAnswers] = {}
    invalid: dict[str, tuple[str, ...]] = {}
    for instrument_id in links.stage_instruments(stage):
        instrument = registry.get(instrument_id)
        raw[instrument_id] = read_answers(instrument, request.POST)
        invalid[instrument_id] = invalid_items(instrument, raw[instrument_id])
    t = strings(language)
    form_key = read_form_key(request.POST)
    problem = None
    if any(invalid.values()):
        problem = t["invalid_summary"]
    elif not any(value is not None for answers in raw.values() for value in answers.values()):
        problem = t["no_answers"]
    elif form_key is None:
        problem = t["stale_form"]
    if problem is None and form_key is not None:
        try:
            result = links.complete_stage(
                link, stage=stage, answers=raw, form_key=form_key, language=language, request=request
            )
        except CheckinError:
            problem = t["invalid_summary"]
        else:
            if not result.advanced:
                return _already_stored(request, token)
            if stage in (CheckinLink.Stage.END, CheckinLink.Stage.FOLLOWUP):
                return _thanks(request, link)
            return _back_to(token, "")
    return _questions(
        request, link, token=token, language=language, stage=stage, values=raw, invalid=invalid, problem=problem
    )


def _already_stored(request: HttpRequest, token: str) -> HttpResponse:
    """Answer a post whose stage another request stored first: with the page that comes next."""
    current = links.lookup(token)
    if current is not None and current.stage == CheckinLink.Stage.DONE:
        return _thanks(request, current)
    return _back_to(token, "")


def _questions(
    request: HttpRequest,
    link: CheckinLink,
    *,
    token: str,
    language: str,
    stage: str,
    values: Mapping[str, RawAnswers] | None = None,
    invalid: Mapping[str, tuple[str, ...]] | None = None,
    problem: str | None = None,
) -> HttpResponse:
    registry = instruments()
    forms: list[InstrumentForm] = [
        build_form(
            registry.get(instrument_id),
            language=language,
            values=(values or {}).get(instrument_id),
            invalid=(invalid or {}).get(instrument_id, ()),
        )
        for instrument_id in links.stage_instruments(stage)
    ]
    t = strings(language)
    # The start and follow-up questions open at the link itself; the end questions behind ?page=questions.
    first_page = stage in (CheckinLink.Stage.START, CheckinLink.Stage.FOLLOWUP)
    context = {
        **_client_context(language, token=token, page="" if first_page else QUESTIONS_PAGE),
        "heading": t[f"{stage}_title"],
        "intro": t[f"{stage}_intro"],
        "stage": stage,
        "forms": forms,
        "form_key": new_form_key(),
        "problem": problem,
        "invalid_questions": [
            (question.dom_id, question.number, form.title)
            for form in forms
            for question in form.questions
            if question.invalid
        ],
    }
    return render(request, "checkins/questions.html", context, status=422 if problem else 200)


def _interlude(request: HttpRequest, link: CheckinLink, *, token: str, language: str) -> HttpResponse:
    practice = link.client.practice
    crisis = practice.crisis_message_es if language == "es" else practice.crisis_message_en
    context = {
        **_client_context(language, token=token, page=""),
        "safety": link.start_risk,
        "crisis_message": crisis,
        "questions_url": f"{reverse('checkin', args=[token])}?page={QUESTIONS_PAGE}",
    }
    return render(request, "checkins/interlude.html", context)


def _thanks(request: HttpRequest, link: CheckinLink) -> HttpResponse:
    language = choose_language(link.language, link.client.language)
    context = {**_client_context(language), "kiosk": bool(request.session.get(KIOSK_KEY))}
    return render(request, "checkins/thanks.html", context)


def _unavailable(request: HttpRequest, exc: links.LinkUnavailableError) -> HttpResponse:
    first = choose_language(exc.link.language, exc.link.client.language) if exc.link is not None else "en"
    order = [first, *(code for code in LANGUAGES if code != first)]
    sections = [
        {
            "language": code,
            "title": strings(code)[f"{exc.reason}_title"],
            "text": strings(code)[f"{exc.reason}_text"],
            "ask": "" if exc.reason in ("used", "paused") else strings(code)["ask_therapist"],
        }
        for code in order
    ]
    context = {
        **_client_context(first),
        "sections": sections,
        "kiosk": bool(request.session.get(KIOSK_KEY)),
    }
    return render(request, "checkins/unavailable.html", context, status=exc.status)


def _client_context(language: str, *, token: str | None = None, page: str = "") -> dict[str, Any]:
    return {
        "t": strings(language),
        "page_language": language,
        "languages": list(language_names(language)),
        "token": token,
        "page": page,
    }


def _back_to(token: str, page: str) -> HttpResponseRedirect:
    url = reverse("checkin", args=[token])
    return HttpResponseRedirect(f"{url}?page={QUESTIONS_PAGE}" if page == QUESTIONS_PAGE else url)


# The therapist's mirror form ---------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def therapist_rating(request: HttpRequest, pk: int) -> HttpResponse:
    """The therapist's own view of a session (``alliance-therapist``), for the client's treating therapist only."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("therapist"), pk=pk)
    if client.therapist_id != request.user.pk:
        # Inside visible_to (a supervisor, an admin): the client exists for them, but this form is the therapist's.
        context = {"client": client}
        return render(request, "checkins/rate_forbidden.html", context, status=403)
    chosen = request.POST.get("appointment") if request.method == "POST" else request.GET.get("appointment")
    appointment = _rated_appointment(request, client, chosen)
    instrument = instruments().get(MIRROR_INSTRUMENT)
    values: RawAnswers | None = None
    invalid: tuple[str, ...] = ()
    problem = None
    if request.method == "POST" and appointment is not None:
        values = read_answers(instrument, request.POST)
        invalid = invalid_items(instrument, values)
        form_key = read_form_key(request.POST)
        if invalid:
            problem = "Some answers are not on the 0–10 scale. Please choose them again; nothing was saved."
        elif all(value is None for value in values.values()):
            problem = "Please answer at least one question; nothing was saved."
        elif form_key is None:
            problem = "This form was out of date. Please check your answers and save again."
        else:
            try:
                submit_checkin(
                    client=client,
                    instrument_id=MIRROR_INSTRUMENT,
                    answers=values,
                    source=CheckIn.Source.STAFF,
                    respondent=CheckIn.Respondent.THERAPIST,
                    appointment=appointment,
                    by=request.user,
                    idempotency_key=f"rate:{appointment.pk}:{MIRROR_INSTRUMENT}:{form_key}",
                    language="en",
                    request=request,
                )
            except CheckinError as exc:
                problem = f"{exc.message}; nothing was saved."
            else:
                messages.success(request, f"Your rating of session {appointment.session_number} was saved.")
                return redirect("client-detail", pk=client.pk)
    else:
        record(request, "read", client)
    previous = (
        CheckIn.objects.filter(appointment=appointment, instrument=MIRROR_INSTRUMENT).order_by("-submitted_at").first()
        if appointment is not None
        else None
    )
    attended = Appointment.objects.visible_to(request.user).filter(client=client, status=Appointment.Status.ATTENDED)
    choices = list(attended.order_by("-starts_at"))
    if appointment is not None and appointment not in choices:
        choices.insert(0, appointment)
    context = {
        "client": client,
        "appointment": appointment,
        "appointments": choices,
        "previous": previous,
        "form": build_form(instrument, language="en", values=values, invalid=invalid),
        "form_key": new_form_key(),
        "problem": problem,
        "t": strings("en"),
    }
    return render(request, "checkins/rate.html", context, status=422 if problem else 200)


def _rated_appointment(request: HttpRequest, client: Client, chosen: str | None) -> Appointment | None:
    """The chosen appointment (404 unless visible and the client's), else the latest attended one (or None)."""
    visible = Appointment.objects.visible_to(request.user).filter(client=client)
    if chosen:
        if not chosen.isdigit():
            raise Http404("no such appointment")
        found: Appointment = get_object_or_404(visible, pk=int(chosen))
        return found
    latest: Appointment | None = (
        visible.filter(status=Appointment.Status.ATTENDED).order_by("-starts_at", "-pk").first()
    )
    return latest
