"""The chest X-ray API (seed 001), mounted at ``/cxr/``: JWT in ``Authorization``.

``POST single_inference`` reads a server-side DICOM inside ``CXR_INPUT_ROOTS`` (the seed's
contract); ``POST single_inference/upload`` takes the DICOM as a multipart file (an addition,
for remote clients and the web page) and answers like ``save_to_disk: false`` plus the PDF
report in ``Data.report``.  Both take ``dicom_output`` (the heatmap as a DICOM Secondary
Capture too, ``Data.heatmap_dicom``).  Views validate, call the service, answer; they never
import torch.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import BareOrBearerJWTAuthentication, jwt_customer
from accounts.models import Customer
from inference.api.parsers import JSONBodyParser, MultiPartBodyParser
from inference.api.views import ProductView
from inference.imaging.decoding import NoImage
from inference.products.cxr import envelope, serializers, service

NOT_A_CUSTOMER = "This user does not act for a customer; ask staff to link the account"


def _errors(*statuses: int) -> dict[int, Any]:
    return {status: serializers.FailureSerializer for status in statuses}


class CxrView(ProductView):
    authentication_classes = [BareOrBearerJWTAuthentication]
    permission_classes = [IsAuthenticated]

    def customer(self, request: Request) -> Customer:
        customer = jwt_customer(request.user, request.auth)
        if customer is None:
            raise PermissionDenied(NOT_A_CUSTOMER)
        return customer

    async def finish(
        self, request: Request, study: service.PreparedStudy, *, with_report: bool
    ) -> Response:
        customer = await sync_to_async(self.customer)(request)
        result = await service.analyse(study)
        data = await sync_to_async(service.deliver, thread_sensitive=False)(study, result)
        await sync_to_async(service.settle)(
            customer=customer,
            api_key=None,
            study=study,
            data=data,
            all_findings=result["all_findings"],
            endpoint=request.path,
            request_id=getattr(request, "request_id", ""),
        )
        if with_report:
            data["report"] = result["report_pdf"]
        return envelope.success(data)


class SingleInferenceView(CxrView):
    parser_classes = [JSONBodyParser]

    @extend_schema(
        summary="Analyse one server-side DICOM file (seed 001)",
        request=serializers.SingleInferenceRequestSerializer,
        responses={
            200: serializers.SuccessSerializer,
            **_errors(400, 401, 403, 413, 415, 500, 503, 504),
        },
        tags=["cxr"],
        operation_id="cxr_single_inference",
    )
    async def post(self, request: Request) -> Response:
        validated = serializers.SingleInferenceRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        # The caller's customer first: its paths must lie in its own roots.
        customer = await sync_to_async(self.customer)(request)
        study = await sync_to_async(service.prepare, thread_sensitive=False)(
            validated.validated_data, customer.pk
        )
        return await self.finish(request, study, with_report=False)


class UploadView(CxrView):
    parser_classes = [MultiPartBodyParser]

    @extend_schema(
        summary="Analyse an uploaded DICOM file (an addition to seed 001)",
        request={"multipart/form-data": serializers.UploadRequestSerializer},
        responses={
            200: OpenApiResponse(
                serializers.UploadSuccessSerializer,
                description="As save_to_disk: false, plus the PDF report (base64) in Data.report.",
            ),
            **_errors(400, 401, 403, 413, 415, 500, 503, 504),
        },
        tags=["cxr"],
        operation_id="cxr_single_inference_upload",
    )
    async def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise NoImage("file is required in the request: upload the DICOM as 'file'")
        validated = serializers.UploadRequestSerializer(data=request.data)
        validated.is_valid(raise_exception=True)
        if upload.size > settings.CXR_MAX_DICOM_BYTES:  # refused before it is read
            raise service.StudyTooLarge(
                f"DICOM file exceeds the maximum of {settings.CXR_MAX_DICOM_BYTES} bytes"
            )
        data = await sync_to_async(upload.read, thread_sensitive=False)()
        study = await sync_to_async(service.prepare_upload, thread_sensitive=False)(
            data,
            validated.validated_data.get("patient_id"),
            dicom_output=validated.validated_data["dicom_output"],
        )
        return await self.finish(request, study, with_report=True)
