"""A minimal metered API, for tests only: the flow every billed endpoint follows.

The VHS API (issue 5) is the real user of this flow; until it exists these views let the
tests drive API-key and JWT authentication, ``Idempotency-Key`` and the billing engine over
real HTTP requests.
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication, BareOrBearerJWTAuthentication
from billing import engine, idempotency


def simple_error_handler(exc: Exception, context: dict) -> Response:
    """``{"error": message}``, the shape of seed 002's errors."""
    if isinstance(exc, idempotency.IdempotencyError):
        return Response({"error": exc.message}, status=exc.status_code)
    if isinstance(exc, exceptions.APIException):
        return Response({"error": str(exc.detail)}, status=exc.status_code)
    raise exc


class MeteredPredictView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return simple_error_handler

    def post(self, request: Request) -> Response:
        customer = request.user.customer
        key = request.headers.get("Idempotency-Key")
        if key:
            stored = idempotency.begin(customer, key, request.path, request.body)
            if stored is not None:
                return Response(stored.body, status=stored.status_code)
        decision = engine.record(
            customer=customer,
            api_key=request.auth,
            product="test",
            endpoint=request.path,
            call_type=request.data.get("call_type", "single"),
            result_code=request.data.get("result_code"),
            patient_uuid=request.data.get("uuid", ""),
            request_id=getattr(request, "request_id", ""),
        )
        body = {"result_code": request.data.get("result_code"), "billing": decision.as_response()}
        if key:
            idempotency.finish(customer, key, 200, body)
        return Response(body)


class WhoAmIView(APIView):
    authentication_classes = [BareOrBearerJWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.username})


urlpatterns = [
    path("metered/predict", MeteredPredictView.as_view()),
    path("jwt/whoami", WhoAmIView.as_view()),
    path("", include("config.urls")),  # and everything the platform serves
]
