"""Therapist and supervisor pages: caseload, client page, own trends, team overview, alert lifecycle.

Each view fetches through ``visible_to`` (anything else is 404), calls one service in ``caseload`` or
``summaries``, records the audit event and renders. Nothing here decides who needs attention.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alliance.clinic import rights
from alliance.clinic.accounts.models import Role
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.service import record
from alliance.clinic.practice.caseload import (
    AlertTransitionError,
    caseload_rows,
    client_page,
    load_caseload,
    open_alerts,
    team_therapists,
    update_alert,
)
from alliance.clinic.practice.models import Client
from alliance.clinic.practice.summaries import intervals_overlap, monthly_trends, therapist_summaries, trends_chart
from alliance.clinic.registry import instruments
from alliance.monitoring.attention import ALLIANCE_CLIENT, alliance_cutoff

__all__ = [
    "alert_update",
    "caseload",
    "client_detail",
    "client_erase",
    "client_export",
    "my_trends",
    "team",
    "team_therapist",
]


def _is_therapist(user: Any) -> bool:
    return getattr(user, "role", None) == Role.THERAPIST


@never_cache
@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    """The therapist's clients, those needing attention first; supervisors and admins go to their team page."""
    user = request.user
    if not _is_therapist(user):
        return redirect("team")
    data = load_caseload(user, therapist_id=user.pk)
    rows = caseload_rows(data, registry=instruments())
    record(request, "read", user)
    context = {
        "rows": rows,
        "alerts": open_alerts(data),
        "flagged": sum(1 for row in rows if row.reasons),
        "heading": "Your caseload",
    }
    return render(request, "practice/caseload.html", context)


@never_cache
@login_required
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One client's chart, answers, alerts, reliable change and appointments (404 unless visible)."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("therapist"), pk=pk)
    page = client_page(request.user, client, registry=instruments())
    record(request, "read", client)
    context = {
        "page": page,
        "client": client,
        "can_export": rights.can_export(request.user, client),
        "can_erase": rights.can_erase(request.user, client) and client.erased_at is None,
    }
    return render(request, "practice/client_detail.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def client_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The client's own data as a FHIR R4B Bundle file (treating therapist and practice admin; audited)."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("therapist"), pk=pk)
    if not rights.can_export(request.user, client):
        return _rights_forbidden(request, client, "export")
    bundle = rights.export_bundle(client)
    record(request, "export", client)
    response = HttpResponse(json.dumps(bundle, cls=DjangoJSONEncoder, indent=1), content_type="application/fhir+json")
    response["Content-Disposition"] = f'attachment; filename="{_file_safe(client.code)}-fhir.json"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def client_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Erase what identifies a client (practice admin only), after typing the client code to confirm."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("therapist"), pk=pk)
    if not rights.can_erase(request.user, client):
        return _rights_forbidden(request, client, "erase")
    if client.erased_at is not None:
        return render(request, "practice/client_erase.html", {"client": client, "done": True})
    problem = None
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() != client.code:
            problem = f"Type the client code {client.code} exactly to confirm; nothing was erased."
        else:
            erasure = rights.erase_client(client, by=request.user, request=request)
            # The old code is not repeated: messages may be kept in the session table.
            messages.success(
                request, f"Identifying data erased. The de-identified record is kept as {erasure.new_code}."
            )
            return redirect("client-detail", pk=client.pk)
    record(request, "read", client)
    context = {"client": client, "problem": problem, "done": False}
    return render(request, "practice/client_erase.html", context, status=422 if problem else 200)


def _rights_forbidden(request: HttpRequest, client: Client, what: str) -> HttpResponse:
    """Inside visible_to but not this user's to do: the client exists for them, so 403 with a reason."""
    return render(request, "practice/rights_forbidden.html", {"client": client, "what": what}, status=403)


def _file_safe(code: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in code) or "client"


@never_cache
@login_required
def alert_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an alert to seen, acted on (with what was done) or resolved; a move it cannot make is a 400."""
    alert = get_object_or_404(Alert.objects.visible_to(request.user), pk=pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        updated = update_alert(
            alert,
            state=request.POST.get("state", ""),
            action_taken=request.POST.get("action_taken", ""),
            by=request.user,
        )
    except AlertTransitionError as exc:
        return render(request, "practice/alert_error.html", {"message": exc.message, "alert": alert}, status=400)
    record(request, "update", updated)
    messages.success(request, f"Alert marked as {updated.get_state_display().lower()}.")
    return redirect("client-detail", pk=updated.client_id)


@never_cache
@login_required
def my_trends(request: HttpRequest) -> HttpResponse:
    """The therapist's own alliance and outcome trends by month, with counts and 95% intervals."""
    user = request.user
    if not _is_therapist(user):
        return redirect("team")
    data = load_caseload(user, therapist_id=user.pk)
    cutoff = alliance_cutoff(instruments().get(ALLIANCE_CLIENT))
    points = monthly_trends(data.checkins, cutoff=cutoff, time_zone=timezone.get_current_timezone_name())
    record(request, "read", user)
    context = {"points": points, "chart": trends_chart(points, cutoff=cutoff) if points else None, "cutoff": cutoff}
    return render(request, "practice/my_trends.html", context)


@never_cache
@login_required
def team(request: HttpRequest) -> HttpResponse:
    """A supervisor's team (an admin's whole practice): caseloads, flagged clients and summaries with intervals."""
    user = request.user
    if _is_therapist(user):
        return redirect("caseload")
    therapists = list(team_therapists(user).order_by("first_name", "last_name", "username"))
    data = load_caseload(user)
    rows = caseload_rows(data, registry=instruments())
    summaries = therapist_summaries([(t.pk, str(t)) for t in therapists], data=data, rows=rows)
    record(request, "read", getattr(user, "practice", None))
    context = {
        "summaries": summaries,
        "alerts": open_alerts(data),
        "whole_practice": getattr(user, "role", None) == Role.ADMIN,
        "recovery_overlap": intervals_overlap([s.recovery for s in summaries]),
        "alliance_overlap": intervals_overlap([s.early_alliance for s in summaries]),
    }
    return render(request, "practice/team.html", context)


@never_cache
@login_required
def team_therapist(request: HttpRequest, pk: int) -> HttpResponse:
    """One therapist's caseload as their supervisor (or the practice admin) sees it (404 outside their scope)."""
    therapist = get_object_or_404(team_therapists(request.user), pk=pk)
    data = load_caseload(request.user, therapist_id=therapist.pk)
    rows = caseload_rows(data, registry=instruments())
    record(request, "read", therapist)
    context = {
        "rows": rows,
        "alerts": open_alerts(data),
        "flagged": sum(1 for row in rows if row.reasons),
        "heading": f"Caseload of {therapist}",
        "therapist": therapist,
    }
    return render(request, "practice/caseload.html", context)
