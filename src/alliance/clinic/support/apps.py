from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "alliance.clinic.support"
    label = "support"
