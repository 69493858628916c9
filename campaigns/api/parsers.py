"""The API's JSON reader: a bounded size, a bounded depth, no NUL characters and no
infinite or out-of-range numbers; anything else is a 400, never a server error."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: Integers beyond what a database column holds (64-bit) are refused.
INT_LIMIT = 2**63 - 1


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise ValueError(text)
    value = int(text)
    if abs(value) > INT_LIMIT:
        raise ValueError(text)
    return value


def _constant(text: str) -> Any:
    raise ValueError(text)  # NaN, Infinity


def check_value(value: Any, *, limit: int) -> None:
    """Depth and NUL characters, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ParseError(_("JSON nested deeper than %(limit)s levels.") % {"limit": limit})
        if isinstance(item, str):
            if "\x00" in item:
                raise ParseError(_("JSON text may not contain NUL characters."))
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


class GuardedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_JSON_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(_("The JSON body is larger than %(limit)s bytes.") % {"limit": limit})
        try:
            text = raw.decode("utf-8")
            value = json.loads(
                text, parse_float=_number, parse_int=_integer, parse_constant=_constant
            )
        except RecursionError:
            raise ParseError(_("JSON nested too deeply.")) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(
                _("The body is not valid JSON: %(error)s") % {"error": str(exc)[:200]}
            ) from None
        check_value(value, limit=settings.API_MAX_JSON_DEPTH)
        return value
