"""Sending the support tool's follow-up questionnaire (the panel itself is part of the client page)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from alliance.clinic.checkins.qr import qr_svg
from alliance.clinic.practice.models import Client
from alliance.clinic.support import panel

__all__ = ["send_followup"]


@never_cache
@login_required
@require_POST
def send_followup(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a one-time link to the follow-up questionnaire and show it once, as address and QR code.

    404 outside ``visible_to``; 403 for anyone but the treating therapist (a supervisor or admin sees the panel
    but does not send).
    """
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("therapist"), pk=pk)
    if client.therapist_id != request.user.pk:
        return render(request, "support/send_forbidden.html", {"client": client}, status=403)
    try:
        issued = panel.send_followup(client, by=request.user, request=request)
    except panel.FollowupUnavailableError as exc:
        return render(request, "support/send_unavailable.html", {"client": client, "message": exc.message}, status=409)
    context = {
        "client": client,
        "link": issued.link,
        "url": issued.url,
        "qr": qr_svg(issued.url, title="QR code of the follow-up questionnaire"),
        "hours": settings.ALLIANCE_FOLLOWUP_LINK_HOURS,
    }
    return render(request, "support/followup_sent.html", context)
