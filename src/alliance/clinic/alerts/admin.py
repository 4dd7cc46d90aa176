"""Django admin: a practice admin edits their practice's monitoring settings and sees its expected-response model."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from alliance.clinic.alerts.models import ExpectedResponseFit, MonitoringSettings
from alliance.clinic.practice.admin import PracticeScopedAdmin


@admin.register(MonitoringSettings)
class MonitoringSettingsAdmin(PracticeScopedAdmin):
    """One row per practice, made with the defaults when the admin first opens the list."""

    list_display = ("practice", "rupture", "low_alliance", "floor", "not_on_track", "dropout", "criterion")
    readonly_fields = ("practice", "updated_at")
    fieldsets = (
        (None, {"fields": ("practice", "updated_at")}),
        (
            "Rules (a risk item always raises an alert: that rule cannot be switched off)",
            {
                "fields": (
                    "rupture",
                    "low_alliance",
                    "floor",
                    "sudden_change",
                    "not_on_track",
                    "milder_alerts",
                    "dropout",
                    "perspective_gap",
                )
            },
        ),
        (
            "Thresholds (provisional until calibrated on the practice's own data)",
            {"fields": ("criterion", "between_sd", "domain_between_sd", "repair_window", "gap_at", "floor_at")},
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row per practice, created on demand

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        user: Any = request.user
        if self.has_module_permission(request) and user.practice_id:
            MonitoringSettings.for_practice(user.practice_id)
        return super().changelist_view(request, extra_context)


@admin.register(ExpectedResponseFit)
class ExpectedResponseFitAdmin(PracticeScopedAdmin):
    """Read only: models are fitted by ``alliance monitor refit`` from the practice's own history."""

    list_display = ("practice", "instrument", "kind", "clients", "observations", "sessions", "fitted_at")
    readonly_fields = ("practice", "instrument", "kind", "clients", "observations", "sessions", "fitted_at")
    exclude = ("document",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
