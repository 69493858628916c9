"""Reading a pushed body safely: hostile JSON (deep nesting, huge numbers, NUL bytes, lone
surrogates) becomes a `MalformedPush` with a specific reason, never an exception that escapes.

ITNIO pushes one report object or an array of them (itnio-api.md §6.1, §6.2). The receiver
checks a body with `read_reports` before answering, and the apply worker reads it again with the
same function, so an entry that was stored as well-formed is well-formed for the worker too.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _

# Real reports nest three levels (an AI record's callDetailList of objects); anything deeper
# than this is not a report. json.loads itself stops near Python's recursion limit with a
# RecursionError, which is caught too.
MAX_DEPTH = 32
# A number longer than this is no ITNIO value (the longest are 19-digit voiceIds); Python
# refuses ints over 4,300 digits with a ValueError that would otherwise escape.
MAX_NUMBER_CHARS = 40


class MalformedPush(ValueError):
    """The body is not a report or a list of reports; the message says what is wrong."""


def decode_body(raw: bytes) -> tuple[str, str | None]:
    """The body as text fit for a text column, and why it is malformed (None when it is not).

    Text columns hold neither NUL characters (PostgreSQL refuses them) nor bytes that are not
    UTF-8, so such bodies are kept readable here (latin-1 for non-UTF-8, U+FFFD for NUL) and
    their exact bytes go beside them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("latin-1").replace("\x00", "\ufffd")
        return text, _("the body is not UTF-8 (byte %(byte)s at position %(pos)s)") % {
            "byte": f"0x{raw[exc.start]:02x}",
            "pos": exc.start,
        }
    nul = text.find("\x00")
    if nul >= 0:
        return text.replace("\x00", "\ufffd"), _(
            "the body contains a NUL byte at position %(pos)s"
        ) % {"pos": nul}
    return text, None


def _number(kind: str):
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise MalformedPush(
                _("the body has a number of %(n)s characters (at most %(max)s are read)")
                % {"n": f"{len(text):,}", "max": MAX_NUMBER_CHARS}
            )
        return int(text) if kind == "int" else float(text)

    return parse


def _refuse_constant(name: str) -> Any:
    raise MalformedPush(
        _("the body contains %(name)s, which is not a JSON number") % {"name": name}
    )


def _check_values(payload: Any) -> None:
    """Depth, NUL characters and unpaired surrogates anywhere in the parsed body (iterative, so
    no recursion limit is involved)."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise MalformedPush(_("a text value contains a NUL character (\\u0000)"))
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise MalformedPush(
                    _("a text value contains an unpaired surrogate (%(char)s)")
                    % {"char": f"\\u{ord(value[exc.start]):04x}"}
                ) from None
            continue
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedPush(
                    _("the body is nested deeper than %(max)s levels") % {"max": MAX_DEPTH}
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    stack.append((key, depth))
                stack.append((item, depth + 1))


def parse_body(body: str) -> Any:
    """json.loads with every hostile case turned into MalformedPush."""
    try:
        payload = json.loads(
            body,
            parse_int=_number("int"),
            parse_float=_number("float"),
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise MalformedPush(
            _("The body is not JSON: %(msg)s at position %(pos)s.")
            % {"msg": exc.msg, "pos": exc.pos}
        ) from None
    except RecursionError:
        raise MalformedPush(
            _("the body is nested deeper than %(max)s levels") % {"max": MAX_DEPTH}
        ) from None
    except (ValueError, OverflowError, TypeError) as exc:
        if isinstance(exc, MalformedPush):
            raise
        raise MalformedPush(_("The body could not be read: %(error)s") % {"error": exc}) from None
    if "\\u" in body or body.count("[") + body.count("{") > MAX_DEPTH:
        # Otherwise no value can hold a NUL or a lone surrogate (both need a \u escape: the text
        # itself is UTF-8 without NUL) and nothing can nest deeper than the limit.
        _check_values(payload)
    return payload


def read_reports(body: str, id_key: str) -> list[dict[str, Any]]:
    """One report object or an array of them, each with `id_key` (voiceId or callId)."""
    payload = parse_body(body)
    reports = payload if isinstance(payload, list) else [payload]
    if not reports:
        raise MalformedPush(_("The body is an empty list."))

    def where(index: int) -> str:
        return (
            _("report %(n)s") % {"n": index + 1} if isinstance(payload, list) else _("the report")
        )

    for index, report in enumerate(reports):
        if not isinstance(report, dict):
            raise MalformedPush(_("%(where)s is not a JSON object.") % {"where": where(index)})
        identifier = report.get(id_key)
        if isinstance(identifier, bool) or not isinstance(identifier, str | int):
            identifier = ""
        if not str(identifier).strip():
            raise MalformedPush(
                _("%(where)s has no %(key)s.") % {"where": where(index), "key": id_key}
            )
    return reports
