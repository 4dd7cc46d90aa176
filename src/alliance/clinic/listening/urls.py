from django.urls import path

from alliance.clinic.listening import views

urlpatterns = [
    path("appointments/<int:pk>/transcript/", views.upload, name="transcript-upload"),
    path("transcripts/<int:pk>/", views.status, name="transcript-status"),
    path("transcripts/<int:pk>/feedback/", views.feedback_page, name="transcript-feedback"),
    path("transcripts/<int:pk>/delete/", views.delete, name="transcript-delete"),
    path("transcripts/<int:pk>/retry/", views.retry, name="transcript-retry"),
    path("clients/<int:pk>/supervision-consent/", views.consent, name="supervision-consent"),
]
