"""``python manage.py create_customer NAME [--tier CODE] [--email E] [--price P:TYPE=USD ...]``.

A tier that lists no price for a call type of a product requiring one (enterprise) needs the
customer's agreed prices, given as ``--price PRODUCT:CALL_TYPE=USD`` (repeatable); without them
the customer is refused rather than created to answer every call with ``billing_error``.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Customer
from billing.models import DEFAULT_TIER_CODE, CallType, CustomerPrice, Tier, product_choices


def parse_price(text: str) -> tuple[str, str, Decimal]:
    """``PRODUCT:CALL_TYPE=USD`` as its three parts, checked against the declared products."""
    try:
        key, amount = text.split("=", 1)
        product, call_type = key.split(":", 1)
        rate = Decimal(amount)
    except (ValueError, InvalidOperation) as exc:
        raise CommandError(f"--price {text!r}: expected PRODUCT:CALL_TYPE=USD") from exc
    products = [name for name, _ in product_choices()]
    if product not in products:
        raise CommandError(f"--price {text!r}: unknown product; known: {', '.join(products)}.")
    if call_type not in CallType.values:
        raise CommandError(f"--price {text!r}: call type is one of {', '.join(CallType.values)}.")
    if rate < 0 or rate != rate.quantize(Decimal("0.01")):
        raise CommandError(f"--price {text!r}: the rate is USD with at most two decimals.")
    return product, call_type, rate


class Command(BaseCommand):
    help = "Create a customer (new customers start on the pay-as-you-go tier)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--tier", default=DEFAULT_TIER_CODE, help="Tier code.")
        parser.add_argument("--email", default="", help="Contact e-mail.")
        parser.add_argument(
            "--price",
            action="append",
            default=[],
            metavar="PRODUCT:CALL_TYPE=USD",
            help="An agreed price (repeatable), e.g. for a tier without list prices.",
        )

    def handle(self, name: str, tier: str, email: str, price: list[str], **options: object):
        name = name.strip()
        if not name:
            raise CommandError("The customer name must not be empty.")
        tier_row = Tier.objects.filter(code=tier).first()
        if tier_row is None:
            codes = ", ".join(Tier.objects.values_list("code", flat=True))
            raise CommandError(f"Unknown tier {tier!r}. Known tiers: {codes}.")
        if Customer.objects.filter(name=name).exists():
            raise CommandError(f"A customer named {name!r} already exists.")
        agreed = {(product, kind): rate for product, kind, rate in map(parse_price, price)}
        customer = Customer(name=name, email=email, tier=tier_row)
        try:
            customer.require_prices(agreed)
        except ValidationError as exc:
            raise CommandError(
                f"{' '.join(exc.messages)} Give them as --price PRODUCT:CALL_TYPE=USD."
            ) from exc
        with transaction.atomic():
            customer.save()
            CustomerPrice.objects.bulk_create(
                CustomerPrice(customer=customer, product=product, call_type=call_type, rate=rate)
                for (product, call_type), rate in agreed.items()
            )
        self.stdout.write(
            f"Created customer {customer.name!r} (id {customer.pk}) on tier {tier_row.code}."
        )
