"""Staff users in the Django admin, scoped to the admin's practice."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from alliance.clinic.accounts.models import User
from alliance.clinic.practice.admin import PracticeScopedAdmin


@admin.register(User)
class UserAdmin(PracticeScopedAdmin, BaseUserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Practice", {"fields": ("role", "practice", "team")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return PracticeScopedAdmin.get_queryset(self, request)
