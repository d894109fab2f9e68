"""``python manage.py create_customer NAME [--tier CODE] [--email E]``."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Customer
from billing.models import DEFAULT_TIER_CODE, Tier


class Command(BaseCommand):
    help = "Create a customer (new customers start on the pay-as-you-go tier)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--tier", default=DEFAULT_TIER_CODE, help="Tier code.")
        parser.add_argument("--email", default="", help="Contact e-mail.")

    def handle(self, name: str, tier: str, email: str, **options: object) -> None:
        name = name.strip()
        if not name:
            raise CommandError("The customer name must not be empty.")
        tier_row = Tier.objects.filter(code=tier).first()
        if tier_row is None:
            codes = ", ".join(Tier.objects.values_list("code", flat=True))
            raise CommandError(f"Unknown tier {tier!r}. Known tiers: {codes}.")
        if Customer.objects.filter(name=name).exists():
            raise CommandError(f"A customer named {name!r} already exists.")
        customer = Customer.objects.create(name=name, email=email, tier=tier_row)
        self.stdout.write(
            f"Created customer {customer.name!r} (id {customer.pk}) on tier {tier_row.code}."
        )
