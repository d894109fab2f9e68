"""Request and response shapes of the chest X-ray API (seed 001).

``SingleInferenceRequestSerializer`` validates the body with the seed's validation-table
messages (the checks that need the file system or the DICOM header follow in
``service.prepare``); every serializer documents the OpenAPI schema.  Component names carry
the product's name (``Cxr…``), so they never collide with another product's.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from inference.api.fields import (
    FormBooleanField,
    NamedChoiceField,
    StrictBooleanField,
    TextField,
    UploadField,
)
from inference.products.cxr.labels import FINDINGS, RESULTS
from inference.products.cxr.paths import is_safe_patient_id


def _required(field: str) -> dict[str, str]:
    message = f"{field} is required in the request"
    return {"required": message, "null": message, "blank": message}


#: ``dicom_output``: the heatmap as a DICOM Secondary Capture too (an addition to the seed).
DICOM_OUTPUT_HELP = (
    "true: the heatmap also comes as a DICOM Secondary Capture (RGB) in the source's study, "
    "in Data.heatmap_dicom; false (default): Data is the seed's, without that field."
)
DICOM_OUTPUT_ERRORS = {
    "invalid": "Invalid value for dicom_output, should be a boolean: {input!r}",
    "null": "Invalid value for dicom_output, should be a boolean: None",
}


@extend_schema_serializer(component_name="CxrSingleInferenceRequest")
class SingleInferenceRequestSerializer(serializers.Serializer):
    input_image_path = TextField(
        error_messages=_required("input_image_path"),
        help_text="Absolute path of one .dcm file on the server, inside CXR_INPUT_ROOTS.",
    )
    save_to_disk = StrictBooleanField(
        error_messages={
            **_required("save_to_disk"),
            "invalid": "Invalid value for save_to_disk, should be a boolean: {input!r}",
        },
        help_text="true: write the output files (four; five with dicom_output); false: return "
        "base64 PNGs.",
    )
    patient_id = TextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Names the output folder and files; default: the DICOM PatientID. "
        "Letters, digits, '.', '_' and '-', at most 64.",
    )
    output_folder_path = TextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Required when save_to_disk is true; inside CXR_OUTPUT_ROOTS.",
    )
    dicom_output = StrictBooleanField(
        required=False,
        default=False,
        error_messages=DICOM_OUTPUT_ERRORS,
        help_text=DICOM_OUTPUT_HELP,
    )

    def validate_patient_id(self, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not is_safe_patient_id(value):
            raise serializers.ValidationError(f"Invalid patient_id: {value!r} in request body")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["save_to_disk"] and not data.get("output_folder_path"):
            raise serializers.ValidationError(
                "output_folder_path is required in the request when save_to_disk is True"
            )
        return data


@extend_schema_serializer(component_name="CxrUploadRequest")
class UploadRequestSerializer(serializers.Serializer):
    file = UploadField(help_text="One DICOM file (multipart field 'file').")
    patient_id = TextField(required=False, allow_blank=True)
    dicom_output = FormBooleanField(
        required=False,
        default=False,
        error_messages=DICOM_OUTPUT_ERRORS,
        help_text=f"{DICOM_OUTPUT_HELP} A form field: 'true' or 'false'.",
    )


class FindingSerializer(serializers.Serializer):
    name = NamedChoiceField(choices=list(FINDINGS), component_name="CxrFindingName")
    presence = serializers.BooleanField()
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0)


@extend_schema_serializer(component_name="CxrMetadata")
class MetadataSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    patient_id = serializers.CharField()
    patient_name = serializers.CharField(allow_blank=True)
    sop_instance_uid = serializers.CharField(allow_blank=True)
    age = serializers.CharField(allow_blank=True)
    sex = serializers.CharField(allow_blank=True)


@extend_schema_serializer(component_name="CxrData")
class DataSerializer(serializers.Serializer):
    result = NamedChoiceField(choices=list(RESULTS), component_name="CxrResult")
    findings = FindingSerializer(many=True, help_text="All 11 when any is present; [] when Normal.")
    source_image = serializers.CharField(help_text="A file path (save_to_disk) or a base64 PNG.")
    heatmap = serializers.CharField(
        allow_blank=True, help_text='A file path or a base64 PNG; "" when Normal.'
    )
    heatmap_dicom = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="An addition, present only with dicom_output: true: the heatmap as a DICOM "
        "Secondary Capture in the source's study, a file path (save_to_disk: "
        '<patient_id>_heatmap.dcm) or the base64 .dcm file; "" when Normal.',
    )
    metadata = MetadataSerializer()


@extend_schema_serializer(component_name="CxrUploadData")
class UploadDataSerializer(DataSerializer):
    report = serializers.CharField(help_text="The PDF report, base64 (upload only).")


@extend_schema_serializer(component_name="CxrSuccess")
class SuccessSerializer(serializers.Serializer):
    Result = NamedChoiceField(choices=["Success"], component_name="CxrSuccessResult")
    Data = DataSerializer()
    Message = serializers.CharField()


@extend_schema_serializer(component_name="CxrUploadSuccess")
class UploadSuccessSerializer(SuccessSerializer):
    Data = UploadDataSerializer()


@extend_schema_serializer(component_name="CxrFailure")
class FailureSerializer(serializers.Serializer):
    Result = NamedChoiceField(choices=["Failure"], component_name="CxrFailureResult")
    Data = serializers.JSONField(allow_null=True, help_text="Always null.")
    Message = serializers.CharField()
