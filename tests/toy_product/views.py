"""The toy product's one endpoint, written as every product's is: shared steps only."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import ApiKeyAuthentication
from billing import engine, idempotency
from inference.api.errors import ApiError, ErrorEnvelope
from inference.api.inference import run_items
from inference.api.views import ProductView
from tests.toy_product.apps import ToyConfig


class ToyEnvelope(ErrorEnvelope):
    messages = {"UNAUTHENTICATED": "who are you?", "AUTHENTICATION_FAILED": "who are you?"}
    codes = {"AUTHENTICATION_FAILED": "UNAUTHENTICATED"}

    def body(self, error: ApiError, request: Any) -> dict[str, Any]:
        return {"problem": error.code, "detail": error.message}


ENVELOPE = ToyEnvelope()


class PredictSerializer(serializers.Serializer):
    x = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)


class PredictView(ProductView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    async def post(self, request: Request) -> Response:
        validated = PredictSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        x = validated.validated_data["x"]
        answer = await idempotency.run_once(
            request.user.customer, request, lambda: self._predict(request, x)
        )
        return Response(answer.body, status=answer.status_code)

    async def _predict(self, request: Request, x: list[float]) -> dict[str, Any]:
        (result,) = await run_items(ToyConfig.product, [{"x": x}])
        decision = await sync_to_async(engine.record)(
            customer=request.user.customer,
            api_key=request.auth,
            product=ToyConfig.product,
            endpoint=request.path,
            call_type="single",
            result_code=1 if sum(result["y"]) > 0 else 0,
            request_id=getattr(request, "request_id", ""),
        )
        return {"y": result["y"], "billing": decision.as_response()}
