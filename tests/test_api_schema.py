"""The OpenAPI schema at /api/schema/ is valid OpenAPI 3, generated without a warning, and
documents each product in its own names: every status, single/batch/rejection as
alternatives, and how to authenticate.  (That every response the API tests receive matches it
is checked by ``tests/schema_check.py``; its own behaviour is tested at the end.)"""

from __future__ import annotations

import inspect
import json
import re

import pytest
from django.http import HttpResponse, JsonResponse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from tests.schema_check import SchemaCheck, published_schema

pytestmark = pytest.mark.django_db

PRODUCT_PREFIXES = {"/leukemia": "Leukemia", "/vhs": "Vhs"}
STATUSES_OF_A_PREDICTION = {"200", "400", "413", "500", "503", "504"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return published_schema()


def refs(node: object) -> set[str]:
    """Every component a piece of the schema refers to, directly."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


def test_the_served_schema_validates_against_the_openapi_3_specification(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    served = json.loads(response.content)
    validate(served)  # openapi-spec-validator: raises on any departure from OpenAPI 3
    assert served["openapi"].startswith("3.")


def test_generating_the_schema_emits_no_warning_and_no_error():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator().get_schema(request=None, public=True)

    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}


def test_each_products_operations_use_only_components_named_after_the_product(schema):
    for prefix, name in PRODUCT_PREFIXES.items():
        used = set()
        for path, item in schema["paths"].items():
            if path.startswith(prefix):
                used |= refs(item)
        assert used, prefix
        assert {component for component in used if not component.startswith(name)} == set()
    assert {"VhsHealth", "VhsError", "LeukemiaHealth", "LeukemiaError"} <= set(
        schema["components"]["schemas"]
    )


def test_vhs_predict_documents_single_rejection_and_batch_as_the_alternatives_of_its_200(schema):
    ok = schema["paths"]["/vhs/v3/predict"]["post"]["responses"]["200"]
    alternatives = schema["components"]["schemas"]["VhsPredictResponse"]["oneOf"]

    assert refs(ok) == {"VhsPredictResponse"}
    assert [a["$ref"].rsplit("/", 1)[-1] for a in alternatives] == [
        "VhsSingleResponse",
        "VhsRejectionResponse",
        "VhsBatchResponse",
    ]
    for name in ("VhsSingleResponse", "VhsRejectionResponse", "VhsBatchResponse"):
        assert name in schema["components"]["schemas"], name


def test_every_operation_documents_a_schema_for_every_status_it_lists(schema):
    missing = [
        f"{method.upper()} {path} {status}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if not any("schema" in media for media in response.get("content", {}).values())
    ]

    assert missing == []
    assert set(schema["paths"]["/health/"]["get"]["responses"]) == {"200", "503"}
    assert refs(schema["paths"]["/health/"]["get"]["responses"]) == {"PlatformHealth"}


def test_predictions_document_the_errors_they_can_answer(schema):
    vhs = set(schema["paths"]["/vhs/v3/predict"]["post"]["responses"])
    leukemia = set(schema["paths"]["/leukemia/predict"]["post"]["responses"])

    assert STATUSES_OF_A_PREDICTION | {"403", "409", "415", "422"} <= vhs
    assert STATUSES_OF_A_PREDICTION | {"415", "429"} <= leukemia


def test_the_leukemia_error_code_enum_lists_every_code_its_envelope_can_answer(schema):
    """A code missing from the enum would be a response the schema (and a typed client's
    enum) refuses: every platform code, as the envelope renames it, must be listed."""
    from inference.api import errors
    from inference.products.leukemia.envelope import ENVELOPE

    platform_codes = set(re.findall(r'"([A-Z][A-Z_]+)"', inspect.getsource(errors)))
    answered = {ENVELOPE.codes.get(code, code) for code in platform_codes}

    assert answered - set(schema["components"]["schemas"]["LeukemiaErrorCode"]["enum"]) == set()


def test_api_key_and_jwt_bearer_are_declared_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": schemes["ApiKeyAuth"]["description"],
    }
    assert (schemes["JWTAuth"]["type"], schemes["JWTAuth"]["scheme"]) == ("http", "bearer")
    assert schemes["JWTAuth"]["bearerFormat"] == "JWT"


def test_vhs_needs_an_api_key_and_leukemia_takes_one_optionally(schema):
    paths = schema["paths"]

    for path, method in [("/vhs/v3/predict", "post"), ("/vhs/v3/health", "get")]:
        assert paths[path][method]["security"] == [{"ApiKeyAuth": []}], path
    for path, method in [("/leukemia/predict", "post"), ("/leukemia/", "get")]:
        assert paths[path][method]["security"] == [{"ApiKeyAuth": []}, {}], path
    assert "security" not in paths["/health/"]["get"]


def test_an_endpoint_authenticating_by_jwt_documents_the_bearer_scheme():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():  # the test-only view has no serializer to document
        generated = SchemaGenerator(urlconf="tests.billing_urls").get_schema(public=True)

    assert generated["paths"]["/jwt/whoami"]["get"]["security"] == [{"JWTAuth": []}]
    assert generated["paths"]["/metered/predict"]["post"]["security"] == [{"ApiKeyAuth": []}]


# --- the response check every API test runs under (tests/schema_check.py) --------------------


def test_the_check_refuses_a_status_the_operation_does_not_document(schema):
    check = SchemaCheck(schema)

    with pytest.raises(AssertionError, match="answered 418, which the schema does not document"):
        check.check("POST", "/vhs/v3/predict", JsonResponse({"error": "teapot"}, status=418))


def test_the_check_refuses_a_body_that_departs_from_the_documented_schema(schema):
    check = SchemaCheck(schema)

    with pytest.raises(AssertionError, match="departs from the schema"):
        check.check("GET", "/vhs/v3/health", JsonResponse({"status": "fine"}))
    with pytest.raises(AssertionError, match="departs from the schema"):
        check.check("POST", "/leukemia/predict", JsonResponse({"error": "x"}, status=400))


def test_the_check_refuses_a_content_type_the_operation_does_not_answer(schema):
    check = SchemaCheck(schema)

    with pytest.raises(AssertionError, match="text/html"):
        check.check("GET", "/vhs/v3/health", HttpResponse("<h1>ok</h1>"))


def test_the_check_holds_unknown_product_paths_and_methods_to_the_products_error_envelope(
    schema,
):
    check = SchemaCheck(schema)

    check.check(
        "GET", "/vhs/v3/no-such-endpoint", JsonResponse({"error": "No endpoint"}, status=404)
    )
    check.check("GET", "/vhs/v3/predict", JsonResponse({"error": "no GET"}, status=405))
    with pytest.raises(AssertionError, match="answered 200"):
        check.check("GET", "/vhs/v3/no-such-endpoint", JsonResponse({"error": "x"}))
    with pytest.raises(AssertionError, match="departs from the schema"):
        check.check("GET", "/vhs/v3/no-such-endpoint", JsonResponse({"detail": "x"}, status=404))
    check.check("GET", "/admin/", HttpResponse("<html>", status=302))  # not the API's
