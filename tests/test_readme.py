"""The README's commands work as a newcomer types them, and it says what is served."""

import re
from pathlib import Path

from inference.runtime.product import products

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_manage_py_commands_use_the_projects_own_python():
    commands = [line for line in README.splitlines() if "manage.py " in line]

    assert commands
    assert all(".venv/bin/python manage.py" in line for line in commands), commands


def test_curl_examples_use_the_base_url_variable_not_a_fixed_port():
    curls = [line for line in README.splitlines() if line.lstrip().startswith("curl ")]

    assert curls
    assert all("$BASE" in line and ":8000" not in line for line in curls), curls


def test_every_api_prefix_the_readme_tables_list_is_served():
    listed = set(re.findall(r"^\| `/([a-z0-9/]+/)` \|", README, flags=re.MULTILINE))
    served = {config.url_prefix for config in products()}
    platform = {"auth/token/", "api/docs/", "health/", "admin/"}

    assert listed - platform <= served, listed - platform - served
