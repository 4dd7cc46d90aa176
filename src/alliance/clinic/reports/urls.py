from django.urls import path

from alliance.clinic.reports import views

urlpatterns = [
    path("analytics/", views.analytics, name="analytics"),
    path("analytics/report.pdf", views.analytics_pdf, name="analytics-pdf"),
]
