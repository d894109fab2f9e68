"""Product settings: declared by each product, read from the environment in one place.

A product names its knobs and their defaults in its declaration
(``ProductConfig.settings_defaults``); settings.py calls ``product_settings`` once, so every
such knob is a Django setting that the environment can override under the same name, cast to
the type of its default (a ``dict`` from JSON), without the platform's settings naming any
product.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any

import environ


def declared_defaults(app_modules: list[str]) -> dict[str, Any]:
    """Every ``settings_defaults`` entry of the ``ProductConfig`` in each app's ``apps.py``."""
    from inference.runtime.product import ProductConfig

    defaults: dict[str, Any] = {}
    for module_name in app_modules:
        module = import_module(f"{module_name}.apps")
        for _, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, ProductConfig) and member.__module__ == module.__name__:
                defaults.update(member.settings_defaults)
    return defaults


def product_settings(env: environ.Env, app_modules: list[str]) -> dict[str, Any]:
    casts = {bool: env.bool, int: env.int, float: env.float, str: env.str, dict: env.json}
    return {
        name: casts[type(default)](name, default=default)
        for name, default in declared_defaults(app_modules).items()
    }
