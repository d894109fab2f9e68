"""Request and response shapes of the PoP capture sessions (``/vhs/v3/pop-session…``).

Requests are validated here with clear 400s; responses document the schema.  Components are
named ``VhsPopSession…`` (one schema documents every product).  ``POST /v3/pop-session``
answers 200 with one of three documents (``FRAME_RESPONSE``): ``continue``, ``complete`` or
``failed``, told apart by ``session_status``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_serializer
from rest_framework import serializers

from inference.api.fields import Base64Field, NamedChoiceField, TextField
from inference.products.vhs.serializers import (
    CONFIDENCES,
    MAX_UUID_LENGTH,
    MISSING_IMAGE,
    NOT_A_STRING,
    BillingSerializer,
    HistoryField,
    LandmarkSerializer,
)

MAX_SESSION_ID_LENGTH = 64
MISSING_SESSION_ID = "Missing required field: session_id"
BAD_SESSION_ID = f"session_id must be a string of at most {MAX_SESSION_ID_LENGTH} characters"
BAD_UUID = f"uuid must be a string of at most {MAX_UUID_LENGTH} characters"
SESSION_ERRORS = ["max_frames_exceeded", "session_timeout", "max_consecutive_failures"]


def _session_id_field(**kwargs: Any) -> TextField:
    return TextField(
        max_length=MAX_SESSION_ID_LENGTH,
        error_messages={
            "required": MISSING_SESSION_ID,
            "null": MISSING_SESSION_ID,
            "blank": MISSING_SESSION_ID,
            "invalid": BAD_SESSION_ID,
            "max_length": BAD_SESSION_ID,
        },
        help_text="The session_id that /v3/pop-session/start returned.",
        **kwargs,
    )


# --- requests --------------------------------------------------------------------------------


@extend_schema_serializer(component_name="VhsPopSessionStartRequest")
class StartRequestSerializer(serializers.Serializer):
    """An empty JSON object (the seed's ``{}``)."""

    default_error_messages = {"invalid": "Request body must be a JSON object"}


@extend_schema_serializer(component_name="VhsPopSessionFrameRequest")
class FrameRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    image = Base64Field(
        error_messages={
            "required": MISSING_IMAGE,
            "null": MISSING_IMAGE,
            "blank": MISSING_IMAGE,
            "invalid": NOT_A_STRING,
        },
        help_text="One captured frame: base64 JPEG or PNG, at most 10 MB.",
    )
    session_id = _session_id_field()
    uuid = TextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_UUID_LENGTH,
        error_messages={"invalid": BAD_UUID, "max_length": BAD_UUID},
        help_text="Patient identifier. Fixed by the session's first frame: a later frame "
        "may omit it, but a different one is a 400.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "uuid": (data.get("uuid") or "").strip()}


class SocketFrameSerializer(FrameRequestSerializer):
    """A frame sent on the session's WebSocket (``{"image", "uuid"}``): the session is the
    socket's, so a ``session_id`` in the message is ignored."""

    default_error_messages = {"invalid": "A frame must be a JSON object"}
    session_id = None


@extend_schema_serializer(component_name="VhsPopSessionTicketRequest")
class TicketRequestSerializer(serializers.Serializer):
    default_error_messages = {"invalid": "Request body must be a JSON object"}

    session_id = _session_id_field()


# --- responses -------------------------------------------------------------------------------


@extend_schema_serializer(component_name="VhsPopSessionConfig")
class SessionConfigSerializer(serializers.Serializer):
    max_frames = serializers.IntegerField()
    max_consecutive_failures = serializers.IntegerField()
    session_ttl_seconds = serializers.IntegerField()


@extend_schema_serializer(component_name="VhsPopSessionStart")
class StartResponseSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    session_status = NamedChoiceField(component_name="VhsPopSessionReady", choices=["ready"])
    pop_pipeline_enabled = serializers.BooleanField(
        help_text="false: frames are measured as direct radiographs (photos of a screen are "
        "not rectified and fail as non-radiographs)."
    )
    models_loaded = serializers.IntegerField()
    pop_models_loaded = serializers.IntegerField()
    model_version = serializers.CharField(allow_null=True)
    session_config = SessionConfigSerializer()


@extend_schema_serializer(component_name="VhsPopSessionFrameResult")
class FrameResultSerializer(serializers.Serializer):
    vhs = serializers.FloatField(allow_null=True)
    vlas = serializers.FloatField(allow_null=True)
    spread = serializers.FloatField(allow_null=True)
    model_confidence = NamedChoiceField(component_name="VhsConfidence", choices=CONFIDENCES)
    landmarks_detected = serializers.BooleanField()
    pop_detected = serializers.BooleanField()


@extend_schema_serializer(component_name="VhsPopSessionContinue")
class ContinueSerializer(serializers.Serializer):
    """More frames are needed; this frame's result and what to change."""

    session_id = serializers.CharField()
    session_status = NamedChoiceField(
        component_name="VhsPopSessionContinueStatus", choices=["continue"]
    )
    reason = serializers.CharField()
    frame_index = serializers.IntegerField(help_text="This frame's index, from 0.")
    frames_processed = serializers.IntegerField()
    good_frames = serializers.IntegerField()
    result_code = serializers.IntegerField(
        allow_null=True, help_text="null for a frame that could not be read."
    )
    result_description = serializers.CharField()
    frame_result = FrameResultSerializer()
    model_version = serializers.CharField(allow_null=True)
    feedback = serializers.CharField(
        allow_null=True,
        help_text="An addition to the seed: one sentence for the person holding the phone.",
    )
    feedback_class = serializers.CharField(
        allow_null=True, help_text="What the feedback is about (glare, tilt, blur, …)."
    )


@extend_schema_serializer(component_name="VhsPopSessionPrediction")
class PredictionSerializer(serializers.Serializer):
    vhs = serializers.FloatField()
    vlas = serializers.FloatField(allow_null=True)
    prediction = LandmarkSerializer(many=True)
    result_code = serializers.IntegerField(help_text="The chosen frame's own code: 1, 2 or 4.")
    result_description = serializers.CharField()
    model_confidence = NamedChoiceField(component_name="VhsConfidence", choices=CONFIDENCES)
    spread = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField()
    rendered_image = serializers.CharField(allow_null=True)
    pop_detected = serializers.BooleanField()
    frame_index = serializers.IntegerField(help_text="Which frame was chosen.")
    historic_vhs = HistoryField(allow_null=True, help_text="null without a uuid.")
    historic_vlas = HistoryField(allow_null=True, help_text="null without a uuid.")
    measurement_id = serializers.IntegerField(
        allow_null=True,
        help_text="Beyond the seed: the stored measurement (with a uuid), to name in POST "
        "/vhs/v3/corrections and /vhs/v3/report; null without a uuid.",
    )


@extend_schema_serializer(component_name="VhsPopSessionComplete")
class CompleteSerializer(serializers.Serializer):
    """Enough good frames: the chosen frame's measurement, billed once at the session rate."""

    session_id = serializers.CharField()
    session_status = NamedChoiceField(
        component_name="VhsPopSessionCompleteStatus", choices=["complete"]
    )
    frame_index = serializers.IntegerField()
    rectified_image = serializers.CharField(
        allow_null=True,
        help_text="The chosen frame as measured: the rectified screen (JPEG) of a photo of "
        "a screen, the frame itself as sent for a direct radiograph.",
    )
    prediction = PredictionSerializer()
    billing = BillingSerializer()


@extend_schema_serializer(component_name="VhsPopSessionFailed")
class FailedSerializer(serializers.Serializer):
    """The session ended without a measurement: never billed."""

    session_id = serializers.CharField()
    session_status = NamedChoiceField(
        component_name="VhsPopSessionFailedStatus", choices=["failed"]
    )
    frame_index = serializers.IntegerField()
    error = NamedChoiceField(component_name="VhsPopSessionError", choices=SESSION_ERRORS)
    frames_processed = serializers.IntegerField()
    good_frames = serializers.IntegerField()
    billing = BillingSerializer()


FRAME_RESPONSE = PolymorphicProxySerializer(
    component_name="VhsPopSessionFrameResponse",
    serializers=[ContinueSerializer, CompleteSerializer, FailedSerializer],
    resource_type_field_name=None,
)


@extend_schema_serializer(component_name="VhsPopSessionTicket")
class TicketResponseSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Single use; send as ?ticket= on the WebSocket URL.")
    expires_in = serializers.IntegerField(help_text="Seconds.")
