from django.urls import path

from alliance.clinic.checkins import views

urlpatterns = [
    path("appointments/<int:pk>/link/", views.link_create, name="checkin-link-create"),
    path("appointments/<int:pk>/kiosk/", views.kiosk_start, name="kiosk-start"),
    path("kiosk/locked/", views.kiosk_locked, name="kiosk-locked"),
    path("kiosk/unlock/", views.kiosk_unlock, name="kiosk-unlock"),
    path("checkin/<str:token>/", views.checkin, name="checkin"),
    path("clients/<int:pk>/rate/", views.therapist_rating, name="client-rate"),
]
