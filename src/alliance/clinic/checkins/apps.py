from django.apps import AppConfig


class CheckinsConfig(AppConfig):
    name = "alliance.clinic.checkins"
    label = "checkins"
