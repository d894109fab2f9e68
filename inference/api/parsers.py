"""The JSON parser every API view uses: DRF's, refusing what Python's ``json`` cannot nest.

``json.loads`` recurses once per level of nesting, so a 200 KB body of ``[[[[…`` raises
``RecursionError`` deep inside DRF, which no handler expects (a 500).  Such a body is
malformed JSON for this API (no request nests more than a few levels), and is answered as
any other malformed body: 400 in the product's envelope.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
