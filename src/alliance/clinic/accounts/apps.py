from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "alliance.clinic.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from alliance.clinic.accounts import signals  # noqa: F401  (connects the audit receivers)
