from django.apps import AppConfig


class PracticeConfig(AppConfig):
    name = "alliance.clinic.practice"
    label = "practice"
