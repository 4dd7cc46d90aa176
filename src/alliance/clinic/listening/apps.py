from django.apps import AppConfig


class ListeningConfig(AppConfig):
    name = "alliance.clinic.listening"
    label = "listening"
    verbose_name = "Listening (session transcripts)"
