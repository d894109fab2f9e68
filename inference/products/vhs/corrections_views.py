"""``POST /vhs/v3/corrections`` and ``GET /vhs/v3/measurements`` (beyond the seed; never
billed): a reader's landmark correction, and a patient's measurements with their corrections.
The rules live in ``corrections``; these views translate HTTP to it and back."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from inference.api.fields import TEXT_PATTERN
from inference.products.vhs import corrections
from inference.products.vhs import corrections_serializers as shapes
from inference.products.vhs.serializers import MAX_UUID_LENGTH
from inference.products.vhs.views import VhsView


class NotCorrectable(APIException):
    status_code = 409


class CorrectionsView(VhsView):
    @extend_schema(
        summary="Correct a measurement's landmarks (not billed)",
        description="Send the `measurement_id` a predict answered (with a uuid) and the seven "
        "landmarks as a reader placed them. VHS and VLAS are measured again with the same "
        "geometry as predict, on the image size stored with the measurement, and stored "
        "beside the AI's values, which are kept. Answers the measurement with its new "
        "`correction`. Never billed.",
        request=shapes.CorrectionRequestSerializer,
        responses={
            201: shapes.MeasurementSerializer,
            **shapes.errors(400, 403, 404, 409, 415, 500),
        },
        tags=["vhs"],
        operation_id="vhs_corrections_create",
    )
    async def post(self, request: Request) -> Response:
        validated = shapes.CorrectionRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        body = await sync_to_async(self._correct)(request, **validated.validated_data)
        return Response(body, status=status.HTTP_201_CREATED)

    @staticmethod
    def _correct(request: Request, measurement_id: int, landmarks, corrected_by: str) -> dict:
        customer = request.user.customer
        try:
            correction = corrections.correction_create(
                customer=customer,
                api_key=request.auth,
                measurement_id=measurement_id,
                landmarks=landmarks,
                corrected_by=corrected_by,
            )
        except corrections.MeasurementNotFound as error:
            raise NotFound(str(error)) from error
        except corrections.NotCorrectable as error:
            raise NotCorrectable(str(error)) from error
        except corrections.ImpossibleGeometry as error:
            raise ValidationError(str(error)) from error
        measurement = corrections.measurement_of(customer, correction.measurement_id)
        return corrections.measurement_document(measurement)


class MeasurementsView(VhsView):
    @extend_schema(
        summary="A patient's measurements with their corrections (not billed)",
        description="Every stored measurement of your patient `uuid`, oldest first: the AI's "
        "values and landmarks as measured, and the newest correction (null when none). A uuid "
        "you never measured, or another customer's, answers an empty list. Never billed.",
        parameters=[
            OpenApiParameter(
                "uuid",
                # As TextField's schema says it (inference.api.fields): no control characters.
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_UUID_LENGTH,
                    "pattern": TEXT_PATTERN,
                },
                OpenApiParameter.QUERY,
                required=True,
            ),
        ],
        responses={200: shapes.MeasurementListSerializer, **shapes.errors(400, 403, 500)},
        tags=["vhs"],
        operation_id="vhs_measurements_list",
    )
    async def get(self, request: Request) -> Response:
        query = shapes.MeasurementsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        uuid = query.validated_data["uuid"].strip()
        body = await sync_to_async(self._list)(request, uuid)
        return Response(body)

    @staticmethod
    def _list(request: Request, uuid: str) -> dict:
        rows = corrections.patient_measurements(request.user.customer, uuid)
        return {"uuid": uuid, "measurements": [corrections.measurement_document(m) for m in rows]}
