"""``POST /vhs/v3/report`` (beyond the seed; never billed): the printable PDF of a stored
measurement (``report_service``)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

from inference.api.fields import Base64Field, TextField
from inference.api.images import check_base64
from inference.api.limits import Base64Images
from inference.products.vhs import corrections, report_service
from inference.products.vhs.corrections_serializers import MEANINGS, measurement_id_field
from inference.products.vhs.serializers import NOT_A_STRING, ErrorSerializer
from inference.products.vhs.views import VhsView

MAX_CLINIC = 200


@extend_schema_serializer(component_name="VhsReportRequest")
class ReportRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    measurement_id = measurement_id_field()
    image = Base64Field(
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages={"invalid": NOT_A_STRING},
        help_text="The radiograph that was measured (base64 JPEG or PNG, its own size): pixels "
        "are never stored. Without it the landmarks are drawn on a blank frame.",
    )
    clinic = TextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_CLINIC,
        error_messages={
            "invalid": f"clinic must be a string of at most {MAX_CLINIC} characters",
            "max_length": f"clinic must be a string of at most {MAX_CLINIC} characters",
        },
        help_text="The report's header; default: your customer name.",
    )


class ReportView(VhsView):
    body_limit = Base64Images(1)

    @extend_schema(
        summary="Printable PDF report of a measurement (not billed)",
        description="One A4 page: the clinic, the patient uuid, the date, the radiograph with "
        "the landmarks (the corrected ones when a reader corrected them), VHS and VLAS against "
        "their normal ranges, the confidence, any staff correction beside the AI value, and "
        "the patient's history as small charts. Send the image that was measured (pixels are "
        "never stored); its size must be the measured one. Never billed: it re-uses a "
        "measurement already billed.",
        request=ReportRequestSerializer,
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
            **{
                status: OpenApiResponse(ErrorSerializer, description=MEANINGS[status])
                for status in (400, 403, 404, 413, 415, 500)
            },
        },
        tags=["vhs"],
        operation_id="vhs_report",
    )
    async def post(self, request: Request) -> HttpResponse:
        validated = ReportRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        call = validated.validated_data
        pdf = await sync_to_async(self._report)(request, **call)
        response = HttpResponse(pdf, content_type="application/pdf")
        filename = f"vhs-report-{call['measurement_id']}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @staticmethod
    def _report(request: Request, measurement_id: int, clinic: str, image: str | None = None):
        checked = check_base64(image) if image else None
        try:
            return report_service.measurement_report(
                customer=request.user.customer,
                measurement_id=measurement_id,
                image=checked,
                clinic=clinic,
            )
        except corrections.MeasurementNotFound as error:
            raise NotFound(str(error)) from error
        except report_service.WrongImage as error:
            raise ValidationError(str(error)) from error
