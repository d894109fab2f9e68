"""Every response the API tests receive must be one the published OpenAPI schema documents.

A pytest plugin (``pytest_plugins`` in ``tests/conftest.py``): in the modules listed in
``CHECKED_MODULES``, and in any test marked ``schema_checked``, each response Django's test
client returns is checked against the schema served at ``/api/schema/``, before the test sees
it.  A status the operation does not document, a JSON body that does not validate against
the documented schema, or a content type the operation does not answer fails the test where
the request was made.  The tests themselves assert nothing about the schema: they exercise the
API and this checks that its documentation is true of whatever they exercised.

What is checked, by path:

- a documented operation (``/x/`` answers as its documented alias ``/x``): its responses;
- a documented path called with another method: a 405 in the product's error document;
- any other path under a product's prefix: a 404 in the product's error document;
- anything else (``/api/docs/``, ``/admin/``, Django's own 404 pages, CORS preflights, which
  the CORS middleware answers before any view): not part of the API's schema, not checked.

A product's error document is the schema its operations document for 500: every product
endpoint can fail unexpectedly, and it answers that in the same envelope as a 404 or a 405.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

#: Test modules whose every response is checked (by module name, without the package).
CHECKED_MODULES = frozenset(
    {"test_vhs_api", "test_leukemia_api", "test_api_contracts", "test_api_schema"}
)

_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schema_checked: check every test-client response against the API schema"
    )


@functools.cache
def published_schema() -> dict[str, Any]:
    """The schema ``/api/schema/`` serves, generated in this process, as plain JSON."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts) + "$"
    )


@dataclass(frozen=True)
class Expectation:
    """What one response must be: one of ``responses`` (status -> OpenAPI response object)."""

    where: str
    responses: dict[str, Any]


class SchemaCheck:
    """Checks responses against one OpenAPI 3.0 document."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.paths = [(_path_regex(t), t, item) for t, item in schema.get("paths", {}).items()]

    def _documented_path(self, path: str) -> tuple[str, dict[str, Any]] | None:
        for candidate in (path, path.rstrip("/") or "/"):
            for regex, template, item in self.paths:
                if regex.match(candidate):
                    return template, item
        return None

    def _product_error(self, prefix: str) -> dict[str, Any]:
        """The 500 response every operation under ``/prefix`` documents (one and the same)."""
        documented = {
            json.dumps(operation["responses"]["500"], sort_keys=True)
            for template, item in self.schema["paths"].items()
            if template.startswith(f"/{prefix}")
            for method, operation in item.items()
            if method in _METHODS and "500" in operation.get("responses", {})
        }
        assert len(documented) == 1, (
            f"the operations under /{prefix} document {len(documented)} different 500s; "
            "a product answers errors in one envelope"
        )
        return json.loads(documented.pop())

    def expectation(self, path: str, method: str) -> Expectation | None:
        """What the schema says ``method path`` answers; None when it is not the API's."""
        from inference.runtime.product import product_for_path

        documented = self._documented_path(path)
        if documented is not None:
            template, item = documented
            operation = item.get(method.lower())
            if operation is not None:
                return Expectation(f"{method} {template}", operation["responses"])
        declaration = product_for_path(path)
        if declaration is None:
            return None
        status = "405" if documented is not None else "404"
        return Expectation(
            f"{method} {path} (not an operation of /{declaration.url_prefix})",
            {status: self._product_error(declaration.url_prefix)},
        )

    def check(self, method: str, path: str, response: Any) -> None:
        """Raise ``AssertionError`` saying how ``response`` departs from the schema."""
        expected = self.expectation(path, method)
        if expected is None:
            return
        status = str(response.status_code)
        documented = expected.responses.get(status) or expected.responses.get("default")
        assert documented is not None, (
            f"{expected.where} answered {status}, which the schema does not document "
            f"(documented: {sorted(expected.responses)}): {response.content[:300]!r}"
        )
        content = documented.get("content")
        if not content:
            return
        content_type = (response.get("Content-Type") or "").split(";")[0].strip()
        assert content_type in content, (
            f"{expected.where} {status} answered {content_type!r}, documented {sorted(content)}"
        )
        schema = content[content_type].get("schema")
        if schema is None or not content_type.endswith("json"):
            return  # a binary body (a PDF) is checked by its content type alone
        validator = OAS30ReadValidator(
            {**schema, "components": self.schema.get("components", {})},
            format_checker=oas30_format_checker,
        )
        body = json.loads(response.content)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{expected.where} {status}: the body departs from the schema:\n" + (
            "\n".join(
                f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
                for e in errors[:5]
            )
        )


@functools.cache
def schema_check() -> SchemaCheck:
    return SchemaCheck(published_schema())


def _is_cors_preflight(request: dict[str, Any]) -> bool:
    return request.get("REQUEST_METHOD") == "OPTIONS" and (
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request
    )


@pytest.fixture(autouse=True)
def _responses_follow_the_schema(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """In the checked tests, every test-client response is checked as it arrives."""
    module = request.node.module.__name__.rsplit(".", 1)[-1] if request.node.module else ""
    if module not in CHECKED_MODULES and request.node.get_closest_marker("schema_checked") is None:
        yield
        return
    original = Client.request

    def checked_request(self: Client, **environ: Any) -> Any:
        response = original(self, **environ)
        sent = response.request
        if not _is_cors_preflight(sent):
            schema_check().check(sent["REQUEST_METHOD"], sent["PATH_INFO"], response)
        return response

    monkeypatch.setattr(Client, "request", checked_request)
    yield
