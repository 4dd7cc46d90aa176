from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "alliance.clinic.audit"
    label = "audit"
