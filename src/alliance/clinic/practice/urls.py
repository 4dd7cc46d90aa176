from django.urls import path

from alliance.clinic.practice import views

urlpatterns = [
    path("caseload/", views.caseload, name="caseload"),
    path("clients/<int:pk>/", views.client_detail, name="client-detail"),
    path("clients/<int:pk>/export/", views.client_export, name="client-export"),
    path("clients/<int:pk>/erase/", views.client_erase, name="client-erase"),
    path("me/trends/", views.my_trends, name="my-trends"),
    path("team/", views.team, name="team"),
    path("team/therapists/<int:pk>/", views.team_therapist, name="team-therapist"),
    path("alerts/<int:pk>/", views.alert_update, name="alert-update"),
]
