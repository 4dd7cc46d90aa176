from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "alliance.clinic.api"
    label = "api"
