"""Short-lived credentials for the staff web pages, acting for an internal, free customer.

The pages call the same public APIs a customer would, so they need what a customer has: an
API key (``x-api-key``) and a JWT (``Authorization``).  A logged-in staff member gets both from
``POST /try/credentials`` (same origin, CSRF-checked, staff session only, ``no-store``):

* the **API key** belongs to the internal customer ``Staff console (internal)``, expires
  after ``CREDENTIAL_SECONDS`` and is one per staff user: a request reuses the user's key
  until it has less than ``RENEW_WITHIN`` left, then a new one replaces it; logging out
  revokes it.  Nothing stores the raw key: it is derived from the key's row with an HMAC
  under ``SECRET_KEY`` (``_raw_key``), so the database holds only its hash, as for every key,
  and a database reader cannot recover it;
* the **JWT** is a simplejwt access token of the staff user that expires with the key and
  acts for the internal customer (``accounts.authentication.ACTS_FOR_CLAIM``), whatever
  customer the user is otherwise linked to.

The internal customer is on the ``internal-free`` tier, whose price is 0.00 for every product
and call type: its usage is recorded like anyone's and bills nothing; it has no Stripe
customer id, and zero amounts are never reported to Stripe (``billing.stripe_reporting``).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.tokens import AccessToken

from accounts import keys
from accounts.authentication import ACTS_FOR_CLAIM
from accounts.models import ApiKey, Customer
from billing.models import CallType, Price, Tier
from inference.runtime.product import products

CONSOLE_CUSTOMER = "Staff console (internal)"
FREE_TIER_CODE = "internal-free"
FREE_TIER_NAME = "Internal (free)"
CREDENTIAL_SECONDS = 900
#: A key with less than this left is replaced, so a page never holds one about to lapse.
RENEW_WITHIN = timedelta(minutes=5)
_HMAC_SALT = "web.credentials.page-key"


@dataclass(frozen=True)
class PageCredentials:
    api_key: str
    jwt: str
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "jwt": self.jwt, "expires_in": self.expires_in}


def free_tier() -> Tier:
    """The internal tier: 0.00 for every call type of every declared product."""
    tier, _ = Tier.objects.get_or_create(
        code=FREE_TIER_CODE, defaults={"name": FREE_TIER_NAME, "min_monthly_calls": 0}
    )
    for config in products():
        for call_type in CallType.values:
            Price.objects.update_or_create(
                tier=tier,
                product=config.product,
                call_type=call_type,
                defaults={"rate": Decimal("0.00")},
            )
    return tier


def console_customer() -> Customer:
    """The internal customer the pages act for, kept on the free tier without Stripe."""
    tier = free_tier()
    customer, created = Customer.objects.get_or_create(
        name=CONSOLE_CUSTOMER, defaults={"tier": tier, "email": ""}
    )
    if not created and (
        customer.tier_id != tier.pk or customer.stripe_customer_id or not customer.is_active
    ):
        customer.tier, customer.stripe_customer_id, customer.is_active = tier, "", True
        customer.save(update_fields=["tier", "stripe_customer_id", "is_active"])
    return customer


def key_label(user: AbstractBaseUser) -> str:
    return f"staff page key: {user.get_username()} (user {user.pk})"


def _raw_key(api_key: ApiKey) -> str:
    """The page key of ``api_key``'s row: an HMAC of its id and creation time under
    SECRET_KEY, so it can be handed out again without being stored anywhere."""
    digest = salted_hmac(
        _HMAC_SALT, f"{api_key.pk}:{api_key.created_at.isoformat()}", algorithm="sha256"
    ).digest()
    return keys.KEY_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _issue_key(customer: Customer, user: AbstractBaseUser, expires_at: datetime) -> str:
    # A random placeholder hash until the row's id (which the key derives from) exists.
    api_key = ApiKey.objects.create(
        customer=customer,
        prefix="",
        key_hash=secrets.token_hex(32),
        label=key_label(user),
        expires_at=expires_at,
    )
    raw = _raw_key(api_key)
    api_key.prefix, api_key.key_hash = keys.display_prefix(raw), keys.hash_key(raw)
    api_key.save(update_fields=["prefix", "key_hash"])
    return raw


def page_key(user: AbstractBaseUser) -> tuple[str, datetime]:
    """The user's live page key and when it expires: reused while it has more than
    ``RENEW_WITHIN`` left, else replaced (the old one revoked)."""
    now = timezone.now()
    customer = console_customer()
    with transaction.atomic():
        live = (
            ApiKey.objects.select_for_update()
            .filter(customer=customer, label=key_label(user), revoked_at__isnull=True)
            .filter(expires_at__gt=now)
            .order_by("-expires_at")
        )
        for api_key in live:
            raw = _raw_key(api_key)
            if api_key.expires_at - now > RENEW_WITHIN and hmac.compare_digest(
                api_key.key_hash, keys.hash_key(raw)
            ):
                return raw, api_key.expires_at
        live.update(revoked_at=now)
        expires_at = now + timedelta(seconds=CREDENTIAL_SECONDS)
        return _issue_key(customer, user, expires_at), expires_at


def page_jwt(user: AbstractBaseUser, customer: Customer, expires_at: datetime) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now(), lifetime=expires_at - timezone.now())
    token[ACTS_FOR_CLAIM] = customer.pk
    return str(token)


def page_credentials(user: AbstractBaseUser) -> PageCredentials:
    """An API key and a JWT for the pages of staff ``user``, both for the internal customer."""
    raw, expires_at = page_key(user)
    jwt = page_jwt(user, console_customer(), expires_at)
    expires_in = int((expires_at - timezone.now()).total_seconds())
    return PageCredentials(api_key=raw, jwt=jwt, expires_in=expires_in)


def revoke_page_keys(user: AbstractBaseUser) -> int:
    """Revoke every live page key of ``user``; the number revoked."""
    return ApiKey.objects.filter(
        customer__name=CONSOLE_CUSTOMER, label=key_label(user), revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


def revoke_on_logout(sender: Any, request: Any, user: AbstractBaseUser | None, **_: Any) -> None:
    if user is not None and user.is_authenticated:
        revoke_page_keys(user)
