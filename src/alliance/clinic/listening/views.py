"""Transcript pages: upload on an appointment, analysis status, feedback, delete, retry, supervision consent.

Reads go through ``SessionTranscript.objects.visible_to`` (the treating therapist; the supervisor only with recorded
consent); changes through ``treated_by`` (the treating therapist only). Anything else is 404. Every view records
its audit event; nothing here logs what was said.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from alliance.clinic.audit.service import record
from alliance.clinic.listening.feedback import LOW_CONFIDENCE, feedback
from alliance.clinic.listening.forms import UploadForm
from alliance.clinic.listening.models import Analysis, SessionTranscript, TranscriptQuerySet
from alliance.clinic.listening.service import AttachError, attach, delete_transcript, record_consent, requeue
from alliance.clinic.practice.access import treating_filter
from alliance.clinic.practice.models import Appointment, Client
from alliance.transcripts import TranscriptError

__all__ = ["consent", "delete", "feedback_page", "retry", "status", "upload"]


@never_cache
@login_required
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    """The treating therapist attaches a transcript to an appointment; it is parsed at once (errors on the form)."""
    appointment = get_object_or_404(
        Appointment.objects.filter(treating_filter(request.user)).select_related("client"), pk=pk
    )
    existing = SessionTranscript.objects.filter(appointment=appointment).first()
    if existing is not None:
        return redirect("transcript-status", pk=existing.pk)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            text = form.text()
            stored = attach(
                appointment,
                text,
                by=request.user,
                file_name=form.cleaned_data["file"].name,
                format=form.cleaned_data["format"],
                speakers=form.cleaned_data["speakers"],
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        except (TranscriptError, AttachError) as exc:
            form.add_error("file", str(exc))
        else:
            record(request, "create", stored)
            messages.success(request, f"Transcript attached: {stored.utterance_count} utterances. Analysis queued.")
            return redirect("transcript-status", pk=stored.pk)
    elif request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    record(request, "read", appointment)
    status = 400 if request.method == "POST" else 200
    return render(request, "listening/upload.html", {"form": form, "appointment": appointment}, status=status)


@never_cache
@login_required
def status(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the analysis stands (the page reloads itself while it is queued or running; no JavaScript)."""
    stored = get_object_or_404(_visible(request), pk=pk)
    analysis = Analysis.objects.filter(transcript=stored).first()
    record(request, "read", stored)
    context = {
        "stored": stored,
        "analysis": analysis,
        "pending": analysis is not None and analysis.state in (Analysis.State.QUEUED, Analysis.State.RUNNING),
        "treating": stored.client.therapist_id == request.user.pk,
    }
    return render(request, "listening/status.html", context)


@never_cache
@login_required
def feedback_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The skill feedback of one session next to that session's client check-in."""
    stored = get_object_or_404(_visible(request), pk=pk)
    analysis = Analysis.objects.filter(transcript=stored).first()
    if analysis is None or analysis.state != Analysis.State.DONE:
        return redirect("transcript-status", pk=stored.pk)
    record(request, "read", stored)
    context = {
        "stored": stored,
        "analysis": analysis,
        "feedback": feedback(stored, analysis),
        "low_confidence": LOW_CONFIDENCE,
        "treating": stored.client.therapist_id == request.user.pk,
    }
    return render(request, "listening/feedback.html", context)


@never_cache
@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """The treating therapist deletes a transcript with its analysis and results."""
    stored = get_object_or_404(SessionTranscript.objects.treated_by(request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    client_id = stored.client_id
    record(request, "delete", stored)
    delete_transcript(stored)
    messages.success(request, "Transcript and its feedback deleted.")
    return redirect("client-detail", pk=client_id)


@never_cache
@login_required
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The treating therapist queues a failed analysis again."""
    stored = get_object_or_404(SessionTranscript.objects.treated_by(request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    analysis = Analysis.objects.filter(transcript=stored).first()
    if analysis is not None and requeue(analysis):
        record(request, "update", analysis)
        messages.success(request, "Analysis queued again.")
    return redirect("transcript-status", pk=stored.pk)


@never_cache
@login_required
def consent(request: HttpRequest, pk: int) -> HttpResponse:
    """The treating therapist records the client's consent to supervision of transcripts (given or withdrawn)."""
    client = get_object_or_404(Client.objects.visible_to(request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if client.therapist_id != request.user.pk:
        context = {"client": client}
        return render(request, "listening/consent_forbidden.html", context, status=403)
    given = request.POST.get("given") == "yes"
    entry = record_consent(client, given=given, by=request.user)
    record(request, "update", entry)
    messages.success(
        request,
        "Consent to supervision recorded: the supervisor may now read this client's transcripts and feedback."
        if given
        else "Consent withdrawn: the supervisor no longer sees this client's transcripts and feedback.",
    )
    return redirect("client-detail", pk=client.pk)


def _visible(request: HttpRequest) -> TranscriptQuerySet:
    return SessionTranscript.objects.visible_to(request.user).select_related("client", "appointment")
