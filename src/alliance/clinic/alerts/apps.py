from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alliance.clinic.alerts"
    label = "alerts"
