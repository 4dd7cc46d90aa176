"""Every route of the clinic app. Each app's own ``urls.py`` lists its pages."""

from django.contrib import admin
from django.urls import include, path

from alliance.clinic import health
from alliance.clinic.accounts.views import admin_login
from alliance.clinic.api.api import api

admin.site.site_header = "alliance — practice administration"
admin.site.site_title = "alliance admin"
# The admin's own log-in form would skip the second factor: it sends to ours.
admin.site.login = admin_login  # type: ignore[method-assign]

urlpatterns = [
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("alliance.clinic.accounts.urls")),
    path("", include("alliance.clinic.practice.urls")),
    path("", include("alliance.clinic.checkins.urls")),
    path("", include("alliance.clinic.support.urls")),
    path("", include("alliance.clinic.listening.urls")),
    path("", include("alliance.clinic.reports.urls")),
    path("", include("alliance.clinic.audit.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
