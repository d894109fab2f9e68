"""Operations commands: create_customer, create_api_key, bootstrap_demo."""

import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Customer

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_new_customers_start_on_the_paygo_tier():
    run("create_customer", "Northside Vets", "--email", "ops@northside.example")

    customer = Customer.objects.get(name="Northside Vets")
    assert customer.tier.code == "paygo"
    assert customer.email == "ops@northside.example"
    assert customer.is_active


def test_create_customer_takes_a_tier_code():
    run("create_customer", "Big Lab", "--tier", "professional")

    assert Customer.objects.get(name="Big Lab").tier.code == "professional"


def test_create_customer_refuses_an_unknown_tier_listing_the_known_ones():
    with pytest.raises(CommandError, match=r"Unknown tier 'gold'.*paygo, starter"):
        run("create_customer", "X", "--tier", "gold")
    assert not Customer.objects.exists()


def test_create_customer_refuses_a_tier_without_list_prices_unless_agreed_prices_are_given():
    with pytest.raises(CommandError, match="no list prices for vhs single, vhs session"):
        run("create_customer", "Hospital group", "--tier", "enterprise")
    assert not Customer.objects.exists()

    run(
        "create_customer",
        "Hospital group",
        "--tier",
        "enterprise",
        "--price",
        "vhs:single=1.10",
        "--price",
        "vhs:session=1.60",
    )

    group = Customer.objects.get(name="Hospital group")
    assert (group.rate_for("vhs", "single"), group.rate_for("vhs", "session")) == (
        Decimal("1.10"),
        Decimal("1.60"),
    )


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("vhs=1.10", "expected PRODUCT:CALL_TYPE=USD"),
        ("xray:single=1.10", "unknown product"),
        ("vhs:batch=1.10", "call type is one of single, session"),
        ("vhs:single=1.105", "at most two decimals"),
        ("vhs:single=cheap", "expected PRODUCT:CALL_TYPE=USD"),
    ],
)
def test_create_customer_refuses_a_malformed_price(price, message):
    with pytest.raises(CommandError, match=message):
        run("create_customer", "X", "--price", price)
    assert not Customer.objects.exists()


def test_create_customer_refuses_a_duplicate_name():
    run("create_customer", "Twice")
    with pytest.raises(CommandError, match="already exists"):
        run("create_customer", "Twice")


def test_create_api_key_prints_the_raw_key_last_and_stores_only_its_hash():
    run("create_customer", "Keyed Clinic")

    lines = run("create_api_key", "Keyed Clinic", "--label", "reception pc")

    raw_key = lines[-1]
    assert raw_key.startswith("mia_")
    assert len(raw_key) >= 40
    stored = ApiKey.objects.get()
    assert stored.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert stored.label == "reception pc"
    assert raw_key.startswith(stored.prefix)
    stored_values = [str(value) for value in ApiKey.objects.values().get().values()]
    assert raw_key not in stored_values


def test_every_issued_key_is_different():
    run("create_customer", "Many Keys")

    issued = {run("create_api_key", "Many Keys")[-1] for _ in range(5)}

    assert len(issued) == 5
    assert ApiKey.objects.count() == 5


def test_bootstrap_demo_seeds_nothing_on_a_database_that_is_not_make_runs_own():
    # The suite's database is PostgreSQL: what a production database would be.
    (said,) = run("bootstrap_demo")

    assert said.startswith("Not seeding demo data")
    assert not get_user_model().objects.filter(username="demo-admin").exists()
    assert not Customer.objects.filter(name="Demo Clinic").exists()
    assert not ApiKey.objects.exists()


def test_create_api_key_for_an_unknown_customer_says_how_to_create_it():
    with pytest.raises(CommandError, match="create_customer 'Nobody'"):
        run("create_api_key", "Nobody")


def test_bootstrap_demo_is_repeatable_and_leaves_one_valid_demo_key(settings, tmp_path):
    settings.BASE_DIR = tmp_path

    first = run("bootstrap_demo", "--demo")
    second = run("bootstrap_demo", "--demo")

    assert first[0] == second[0]  # same staff credentials on every run
    user = get_user_model().objects.get(username="demo-admin")
    password = first[0].split("/")[1].split()[0]
    assert user.is_staff
    assert user.check_password(password)
    demo = Customer.objects.get(name="Demo Clinic")
    assert demo.api_keys.count() == 2
    assert demo.api_keys.filter(revoked_at__isnull=True).count() == 1
    live_key = second[-1].split()[-1]
    assert demo.api_keys.get(revoked_at__isnull=True).key_hash == (
        hashlib.sha256(live_key.encode()).hexdigest()
    )
