from django.urls import path

from alliance.clinic.audit import views

urlpatterns = [
    path("audit/", views.audit_report, name="audit-report"),
]
