"""Staff users in the Django admin, scoped to the admin's practice; the admin can reset a user's authenticator."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from alliance.clinic.accounts import mfa
from alliance.clinic.accounts.models import User
from alliance.clinic.practice.admin import PracticeScopedAdmin


@admin.register(User)
class UserAdmin(PracticeScopedAdmin, BaseUserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active", "has_authenticator")
    list_filter = ("role", "is_active")
    actions = ["reset_mfa"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Practice", {"fields": ("role", "practice", "team")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return PracticeScopedAdmin.get_queryset(self, request)

    @admin.display(boolean=True, description="Authenticator")
    def has_authenticator(self, user: User) -> bool:
        return mfa.confirmed_device(user) is not None

    @admin.action(description="Reset two-factor sign-in (they set up a new authenticator at their next log-in)")
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """Remove the chosen users' authenticators and recovery codes; each reset is in the audit log."""
        done = [user.get_username() for user in queryset if mfa.reset(request, user, by=request.user)]
        if done:
            self.message_user(request, f"Two-factor sign-in reset for: {', '.join(done)}.", messages.SUCCESS)
        else:
            self.message_user(request, "None of them had an authenticator set up.", messages.WARNING)
