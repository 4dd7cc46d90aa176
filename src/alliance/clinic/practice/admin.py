"""Django admin for practice setup: a practice admin sees and edits only their own practice."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from alliance.clinic.audit.service import record
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity, Episode, Practice, Team


class PracticeScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows outside the admin's practice do not exist for them (superusers see all)."""

    practice_path = "practice"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        user: Any = request.user
        if user.is_superuser:
            return queryset
        return queryset.filter(**{self.practice_path: user.practice_id}) if user.practice_id else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.is_active and (user.is_superuser or (user.is_staff and user.role == "admin")))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    has_change_permission = has_view_permission
    has_add_permission = has_module_permission

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # client data is never deleted from the admin (erasure is its own audited process)

    # Every list, record shown and record saved in the admin goes to the audit trail like any other page.
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if response.status_code == 200:
            record(request, "read", details={"admin_list": self.model._meta.model_name})
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            shown = self.get_object(request, unquote(object_id))
            if shown is not None:
                record(request, "read", shown)
        return response

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record(request, "update" if change else "create", obj)


@admin.register(Practice)
class PracticeAdmin(PracticeScopedAdmin):
    practice_path = "pk"
    list_display = ("name", "created_at")


@admin.register(Team)
class TeamAdmin(PracticeScopedAdmin):
    list_display = ("name", "supervisor")


@admin.register(Client)
class ClientAdmin(PracticeScopedAdmin):
    list_display = ("code", "therapist", "language", "ethnicity", "gender", "deprivation", "created_at")
    search_fields = ("code",)


@admin.register(Episode)
class EpisodeAdmin(PracticeScopedAdmin):
    practice_path = "client__practice"
    list_display = ("client", "therapist", "referral_date", "opened_on", "closed_on", "ending")


@admin.register(Appointment)
class AppointmentAdmin(PracticeScopedAdmin):
    practice_path = "client__practice"
    list_display = ("client", "session_number", "starts_at", "status")
    list_filter = ("status",)


@admin.register(ClientIdentity)
class ClientIdentityAdmin(PracticeScopedAdmin):
    practice_path = "client__practice"
    list_display = ("client",)
