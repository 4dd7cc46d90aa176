from django.contrib.auth import views as auth_views
from django.urls import path

from alliance.clinic.accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_password, name="login"),
    path("login/code/", views.login_code, name="login-code"),
    path("login/enrol/", views.enrol, name="mfa-enrol"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
