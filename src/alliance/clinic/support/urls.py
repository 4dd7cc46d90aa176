from django.urls import path

from alliance.clinic.support import views

urlpatterns = [
    path("clients/<int:pk>/followup/", views.send_followup, name="followup-send"),
]
