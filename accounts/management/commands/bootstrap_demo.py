"""``python manage.py bootstrap_demo``: what ``make run`` calls before serving.

Ensures a demo staff user and a demo customer exist, and prints their credentials and a fresh
demo API key, so a newcomer can log in to /admin/ and call the APIs at once.  The password
lives in ``var/demo_admin_password`` (made once, git-ignored) so it stays the same across runs.

Only on the embedded SQLite database that ``make run`` uses by default, or when asked with
``--demo``: pointed at PostgreSQL (which may be production's), a superuser and a live key
must never appear, nor be printed, on their own.
"""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import ApiKey, Customer, Membership

DEMO_USERNAME = "demo-admin"
DEMO_CUSTOMER = "Demo Clinic"
DEMO_KEY_LABEL = "demo key (make run)"


def demo_password() -> str:
    path = settings.BASE_DIR / "var" / "demo_admin_password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def embedded_database() -> bool:
    """Whether the default database is ``make run``'s own SQLite file under ``var/``."""
    database = settings.DATABASES["default"]
    return database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) == str(
        settings.BASE_DIR / "var" / "db.sqlite3"
    )


class Command(BaseCommand):
    help = (
        "Ensure the demo staff user and customer exist; print credentials and a fresh key "
        "(on make run's embedded SQLite database, or anywhere with --demo)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--demo",
            action="store_true",
            help="seed the demo user and key even though the database is not make run's own",
        )

    def handle(self, **options: Any) -> None:
        if not options["demo"] and not embedded_database():
            self.stdout.write(
                "Not seeding demo data: the database is not make run's embedded SQLite "
                "(pass --demo to seed a demo staff user and API key there anyway)."
            )
            return
        password = demo_password()
        user, _ = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo-admin@example.invalid"}
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()

        customer, _ = Customer.objects.get_or_create(name=DEMO_CUSTOMER)
        # The demo user acts for the demo customer, so its JWT calls are that customer's.
        Membership.objects.update_or_create(user=user, defaults={"customer": customer})
        # Only one demo key is valid at a time: the one printed now.
        customer.api_keys.filter(label=DEMO_KEY_LABEL, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _, raw_key = ApiKey.issue(customer, label=DEMO_KEY_LABEL)

        self.stdout.write(
            f"Demo staff user:  {DEMO_USERNAME} / {password}  (log in at / for the pages and "
            "/admin/; the same login gets a JWT from /auth/token/)"
        )
        self.stdout.write(f"Demo customer:    {customer.name} (tier {customer.tier.code})")
        self.stdout.write(f"Demo API key:     {raw_key}")
