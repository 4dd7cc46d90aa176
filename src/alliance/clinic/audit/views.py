"""The audit report for practice admins: their practice's events only, filtered by date, actor and action.

Events belong to a practice through the staff member who acted or the client concerned. Nobody else reaches the
page (404, as for anything outside one's scope). Audit events never hold answers or notes, so none can be shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alliance.clinic.accounts.models import Role
from alliance.clinic.audit.models import AuditChainHead, AuditEvent
from alliance.clinic.audit.service import record
from alliance.clinic.practice.models import Client

__all__ = ["PAGE_SIZE", "AuditFilter", "audit_report", "practice_events"]

PAGE_SIZE = 100


class AuditFilter(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    actor = forms.CharField(required=False, max_length=150, label="Actor (user name)")
    action = forms.ChoiceField(required=False, choices=[("", "any"), *AuditEvent.Action.choices])

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError("'From' is after 'To'.")
        return cleaned


def practice_events(practice_id: int) -> QuerySet[AuditEvent]:
    """Events of one practice: by its staff, or about its clients."""
    clients = Client.objects.filter(practice_id=practice_id).values("pk")
    return AuditEvent.objects.filter(Q(user__practice_id=practice_id) | Q(client_id__in=clients))


def _filtered(events: QuerySet[AuditEvent], data: dict[str, Any]) -> QuerySet[AuditEvent]:
    zone = timezone.get_current_timezone()
    if data.get("start"):
        events = events.filter(at__gte=dt.datetime.combine(data["start"], dt.time.min, tzinfo=zone))
    if data.get("end"):
        events = events.filter(at__lt=dt.datetime.combine(data["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
    if data.get("actor"):
        events = events.filter(actor__iexact=data["actor"].strip())
    if data.get("action"):
        events = events.filter(action=data["action"])
    return events


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def audit_report(request: HttpRequest) -> HttpResponse:
    """The practice's audit trail, newest first, 100 a page."""
    user: Any = request.user
    if getattr(user, "role", None) != Role.ADMIN or user.practice_id is None:
        raise Http404
    form = AuditFilter(request.GET or None)
    events = practice_events(user.practice_id)
    valid = form.is_valid() if request.GET else True
    if valid and request.GET:
        events = _filtered(events, form.cleaned_data)
    page = Paginator(events.select_related("user").order_by("-seq"), PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list) if valid else []
    codes = dict(
        Client.objects.filter(
            practice_id=user.practice_id, pk__in={e.client_id for e in shown if e.client_id}
        ).values_list("pk", "code")
    )
    record(request, "read", user.practice, details={"page": "audit report", "events_shown": len(shown)})
    query = request.GET.copy()
    query.pop("page", None)
    head = AuditChainHead.objects.filter(pk=1).first()
    context = {
        "form": form,
        "page": page,
        "rows": [(event, codes.get(event.client_id or 0, "")) for event in shown],
        "valid": valid,
        "query": query.urlencode(),
        "head_seq": head.seq if head else 0,
    }
    return render(request, "audit/report.html", context)
