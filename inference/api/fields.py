"""Request fields every product's serializers share.

``TextField`` is for text that is stored, logged or compared: a patient identifier, a name.
It takes a JSON string only (DRF's ``CharField`` would turn ``5`` into ``"5"``) and refuses
control characters (Unicode category ``Cc``: NUL, line breaks, tabs, escape, DEL, C1) and
lone surrogates, with a 400 that names the field.  PostgreSQL cannot store NUL in a text
column (a ``DataError``, which would be a 500) and SQLite stores it as given, so the check
belongs to the request, identical on both databases; the other control characters would
corrupt exports, logs and terminals without ever being part of an identifier.

``Base64Field`` is for an encoded image: a string, never trimmed, and not checked as text:
base64 may legitimately be wrapped with line breaks, and its decoding checks it
(``inference.api.images``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import ProhibitNullCharactersValidator
from rest_framework.validators import ProhibitSurrogateCharactersValidator

#: Categories refused in text: control characters and unpaired UTF-16 surrogates.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a character that has no place in stored text."""
    return any(unicodedata.category(character) in REFUSED_CATEGORIES for character in value)


class StrictStringField(serializers.CharField):
    """A JSON string, and only a string."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Base64Field(StrictStringField):
    """An encoded image: a string kept exactly as sent (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        # CharField's NUL and surrogate validators walk the string in Python: over a second
        # for one 10 MB image, on the event loop.  Base64 decoding refuses both anyway.
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]


class TextField(StrictStringField):
    """Stored text: a string without control characters (see the module docstring).

    The refusal reads ``"<field> must not contain control characters"``; a product may
    word it differently through ``error_messages={"control_characters": ...}``, where
    ``{field}`` is replaced by the field's name.
    """

    default_error_messages = {"control_characters": "{field} must not contain control characters"}

    def to_internal_value(self, data: Any) -> str:
        # Checked before trimming: a trailing line break is refused, not silently removed.
        if isinstance(data, str) and has_control_characters(data):
            self.fail("control_characters", field=self.field_name or "text")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false``, not DRF's ``"yes"``, ``1`` or ``"on"``.

    The refusal may quote what was sent: ``{input}`` in an ``invalid`` message.
    """

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class FormBooleanField(serializers.BooleanField):
    """A multipart form's ``true`` or ``false`` (text, in any letter case), and nothing else.

    A form sends every value as text, so this is ``StrictBooleanField`` for forms: DRF's
    ``"yes"``, ``"1"`` or ``"on"`` are refused as ``invalid`` (``{input}`` quotes them).
    """

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip().lower() in ("true", "false"):
            return data.strip().lower() == "true"
        self.fail("invalid", input=data)


class NamedChoiceField(serializers.ChoiceField):
    """A response field whose choices are one named enum in the schema.

    drf-spectacular names an enum after the property (``model_confidence`` becomes
    ``ModelConfidenceEnum``), so one choice set under several properties (a single image's
    ``model_confidence``, a batch's ``vhs_confidence``) gets several names and a warning.
    This names it once, as ``component_name``, wherever it is used.
    """

    def __init__(self, *, component_name: str, **kwargs: Any) -> None:
        self.component_name = component_name
        super().__init__(**kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """The schema of a ``NamedChoiceField``: a reference to its own enum component."""

    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return self.target.component_name

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}


#: What ``TextField`` refuses, as a JSON Schema pattern: control characters (``Cc``).
_NO_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """An uploaded file: binary in the schema (DRF's ``FileField`` reads as a URL there)."""


#: A non-blank ``TextField``'s value, as a JSON Schema pattern (whitespace is trimmed).
TEXT_PATTERN = f"^[^{_NO_CONTROL}]*[^\\s{_NO_CONTROL}][^{_NO_CONTROL}]*$"


class StrictStringFieldExtension(OpenApiSerializerFieldExtension):
    """The schema of the platform's string fields says what they refuse, so a client (and a
    fuzzer) knows a blank value or a control character is invalid before sending it: a
    required-non-blank field has ``minLength: 1``, and text a ``pattern`` without control
    characters (with a character other than whitespace, which is trimmed, when not blank)."""

    target_class = StrictStringField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        blank_allowed = self.target.allow_blank
        if not blank_allowed:
            schema.setdefault("minLength", 1)
        if isinstance(self.target, TextField):
            text = f"[^{_NO_CONTROL}]*"
            schema["pattern"] = f"^{text}$" if blank_allowed else TEXT_PATTERN
        return schema
