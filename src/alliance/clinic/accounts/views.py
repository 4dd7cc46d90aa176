"""Where a member of staff lands after logging in."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send therapists to their caseload, supervisors and admins to their team overview."""
    role = getattr(request.user, "role", "")
    return redirect("caseload" if role == "therapist" else "team")
