from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"
    verbose_name = "Staff web pages"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from web.credentials import revoke_on_logout

        user_logged_out.connect(revoke_on_logout, dispatch_uid="web.revoke_page_keys")
