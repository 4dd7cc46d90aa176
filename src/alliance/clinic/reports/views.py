"""The analytics page and its supervision PDF, for supervisors (their teams) and practice admins (their practice).

Therapists and anyone outside a practice get 404, like everything outside a user's scope. Each view records its
audit event: reading the page is a read, downloading the PDF an export.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from alliance.clinic.accounts.models import Role
from alliance.clinic.audit.service import record
from alliance.clinic.reports.page import ALL_PERIODS, analytics_page
from alliance.clinic.reports.pdf import render_pdf

__all__ = ["analytics", "analytics_pdf"]


def _allowed(user: Any) -> bool:
    return (
        getattr(user, "role", None) in (Role.SUPERVISOR, Role.ADMIN) and getattr(user, "practice_id", None) is not None
    )


@never_cache
@login_required
def analytics(request: HttpRequest) -> HttpResponse:
    """Outcomes, alliance, engagement, the therapist effect and equity over the user's scope, for one period."""
    if not _allowed(request.user):
        raise Http404
    page = analytics_page(request.user, period=request.GET.get("period", ALL_PERIODS))
    record(request, "read", getattr(request.user, "practice", None))
    return render(request, "reports/analytics.html", {"page": page})


@never_cache
@login_required
def analytics_pdf(request: HttpRequest) -> HttpResponse:
    """The same page as a PDF for supervision, rendered offline."""
    if not _allowed(request.user):
        raise Http404
    page = analytics_page(request.user, period=request.GET.get("period", ALL_PERIODS))
    html = render_to_string("reports/analytics_pdf.html", {"page": page}, request=request)
    pdf = render_pdf(html)
    record(request, "export", getattr(request.user, "practice", None))
    response = HttpResponse(pdf, content_type="application/pdf")
    stamp = page.generated_at.strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="alliance-analytics-{page.period}-{stamp}.pdf"'
    return response
