"""The body parsers every API view uses: DRF's, refusing what they cannot read as a 400.

``json.loads`` recurses once per level of nesting, so a 200 KB body of ``[[[[…`` raises
``RecursionError`` deep inside DRF, which no handler expects (a 500).  Such a body is
malformed JSON for this API (no request nests more than a few levels), and is answered as
any other malformed body: 400 in the product's envelope.

A multipart body that cannot be read (no boundary, a boundary that is not ASCII, a part cut
off) is ``MalformedUpload``: a 400 that says it is the upload, so an envelope that words a
malformed body as bad JSON (the chest X-ray seed's) does not say so of a form.  The daphne
in front only hands such bodies on since ``config.daphne_requests``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser


class MalformedUpload(ParseError):
    default_detail = "Malformed multipart/form-data body"


class JSONBodyParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


class MultiPartBodyParser(MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except MalformedUpload:
            raise
        except (ParseError, ValueError, UnicodeError) as exc:
            raise MalformedUpload(f"Malformed multipart/form-data body: {exc}") from exc
