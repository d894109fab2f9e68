"""A minimal metered endpoint, for tests only: billing and idempotency without a model.

It goes through the same shared steps as every product's views (``ProductView``,
``billing.idempotency.run_once``, ``billing.engine.record``) and bills under the VHS value
rule, so the tests can choose the result code a call reports.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication, BareOrBearerJWTAuthentication
from billing import engine, idempotency
from inference.api.views import ProductView
from inference.products.vhs.errors import ENVELOPE


class MeteredPredictView(ProductView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    envelope = ENVELOPE

    async def post(self, request: Request) -> Response:
        answer = await idempotency.run_once(
            request.user.customer, request, lambda: self._record(request)
        )
        return Response(answer.body, status=answer.status_code)

    async def _record(self, request: Request) -> dict[str, Any]:
        decision = await sync_to_async(engine.record)(
            customer=request.user.customer,
            api_key=request.auth,
            product="vhs",
            endpoint=request.path,
            call_type=request.data.get("call_type", "single"),
            result_code=request.data.get("result_code"),
            patient_uuid=request.data.get("uuid", ""),
            request_id=getattr(request, "request_id", ""),
        )
        return {"result_code": request.data.get("result_code"), "billing": decision.as_response()}


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
