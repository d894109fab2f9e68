"""``python manage.py create_api_key CUSTOMER_NAME [--label L]``.

The raw key is the last line of the output, so scripts can take it with ``tail -n 1``.  It is
shown this once; only its hash is stored.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiKey, Customer


class Command(BaseCommand):
    help = "Issue an API key for a customer and print it once (last line of the output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_name")
        parser.add_argument("--label", default="", help="A note to recognise the key by.")

    def handle(self, customer_name: str, label: str, **options: object) -> None:
        customer = Customer.objects.filter(name=customer_name).first()
        if customer is None:
            raise CommandError(
                f"No customer named {customer_name!r}. Create it first: "
                f"python manage.py create_customer {customer_name!r}"
            )
        if not customer.is_active:
            raise CommandError(f"Customer {customer_name!r} is inactive; activate it first.")
        api_key, raw_key = ApiKey.issue(customer, label=label)
        self.stdout.write(
            f"API key {api_key.prefix}… issued for {customer.name!r}. "
            "Store it now: it is shown once and cannot be recovered."
        )
        self.stdout.write(raw_key)
