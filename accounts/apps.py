from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers and API keys"

    def ready(self) -> None:
        # Counts refused logins (the user_login_failed receiver).
        from accounts import login_throttling  # noqa: F401
