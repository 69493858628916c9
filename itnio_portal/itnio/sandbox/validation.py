"""Strict JSON-type, presence and range validation of request bodies (the sandbox's own rules)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

# Types as the vendor tables name them. The seeds' Java samples send an Int as a JSON number,
# their PHP samples as a JSON string of digits ("loopCount":"2", "jobId":"10886"): ITNIO takes
# both, so an Int (or a Double) may come as either; "two", "2.5" for an Int, "" or true never.
STRING = "String"
INT = "Int"
DOUBLE = "Double"
OBJECT = "Object"
ARRAY = "Array"
BOOLEAN = "Boolean"

_DIGITS = re.compile(r"[0-9]+")
# A number written as a JSON string, as PHP's json_encode writes "$x = '30'": ASCII digits with an
# optional minus (so "-1" gets the range error, not a type error); Doubles may have a fraction.
_INT_TEXT = re.compile(r"-?[0-9]+")
_DOUBLE_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class ParamError(Exception):
    """A body that breaks a documented parameter rule (-22 voice, -27 aivoice)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


FieldCheck = Callable[[Any], str | None]
# Cross-field checks get the cleaned values and the SandboxState (for configurable limits/clock).
SchemaCheck = Callable[[dict[str, Any], Any], str | None]


@dataclass(frozen=True)
class Field:
    """One documented request parameter."""

    name: str
    kind: str
    required: bool = True
    check: FieldCheck | None = None
    schema: Schema | None = None
    # The docs say the field may be empty ("允许为空", "0-1000 characters"): "" means absent.
    may_be_empty: bool = False


@dataclass(frozen=True)
class Schema:
    """The parameters of one endpoint plus cross-field rules."""

    fields: tuple[Field, ...]
    checks: tuple[SchemaCheck, ...] = ()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number(text: str) -> int | float:
    """A number sent as a string, as the JSON number it stands for ("30" -> 30, "1.5" -> 1.5)."""
    return int(text) if _INT_TEXT.fullmatch(text) else float(text)


def _describe(value: Any) -> str:
    """The JSON type, and for a string its value (so "two" for an Int reads as such)."""
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:20] + "…"
        return f"string {shown!r}"
    return _type_name(value)


def _type_ok(kind: str, value: Any) -> bool:
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):  # JSON true/false is never an Int, a Double or a String
        return False
    if kind == STRING:
        return isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) or (
            isinstance(value, str) and bool(_INT_TEXT.fullmatch(value))
        )
    if kind == DOUBLE:
        return isinstance(value, int | float) or (
            isinstance(value, str) and bool(_DOUBLE_TEXT.fullmatch(value))
        )
    if kind == ARRAY:
        return isinstance(value, list)
    return isinstance(value, dict)


_EXPECTED = {
    STRING: "a String (JSON string)",
    INT: "an Int (a JSON integer or a string of digits)",
    DOUBLE: "a Double (a JSON number or a string like 1.5)",
    OBJECT: "an Object (JSON object)",
    ARRAY: "an Array (JSON array)",
    BOOLEAN: "a Boolean (JSON true or false)",
}


def validate(body: Any, schema: Schema, state: Any = None, *, prefix: str = "") -> dict[str, Any]:
    """Return the cleaned values of ``body`` or raise ParamError naming the first bad field.

    Unknown extra fields are ignored. JSON null counts as "absent" (the docs say "or null" /
    "允许为空" for optional fields); so does an empty string for a field the docs say may be
    empty (``may_be_empty``). An empty string for any other field is an error: required ones
    must have a value, other optional ones must be omitted. Numbers sent as strings come back
    as int / float, so handlers see one type.
    """
    if not isinstance(body, dict):
        where = f"{prefix[:-1]} " if prefix else "request body "
        raise ParamError(f"{where}must be a JSON object, got {_type_name(body)}")
    cleaned: dict[str, Any] = {}
    for field in schema.fields:
        name = prefix + field.name
        value = body.get(field.name)
        if value is None:
            if field.required:
                raise ParamError(f"{name} is required")
            continue
        if value == "" and field.may_be_empty and not field.required:
            continue
        if not _type_ok(field.kind, value):
            raise ParamError(f"{name} must be {_EXPECTED[field.kind]}, got {_describe(value)}")
        if isinstance(value, str) and field.kind in (INT, DOUBLE):
            value = _number(value)
        if value == "":
            if field.required:
                raise ParamError(f"{name} is required and must not be empty")
            raise ParamError(f"{name} is optional: omit it instead of sending an empty string")
        if field.schema is not None:
            value = validate(value, field.schema, state, prefix=name + ".")
        if field.check is not None:
            problem = field.check(value)
            if problem:
                raise ParamError(f"{name} {problem}")
        cleaned[field.name] = value
    for check in schema.checks:
        problem = check(cleaned, state)
        if problem:
            raise ParamError(problem)
    return cleaned


def digits(low: int, high: int) -> FieldCheck:
    """ASCII digits only, ``low``..``high`` of them."""

    def check(value: str) -> str | None:
        if not _DIGITS.fullmatch(value) or not low <= len(value) <= high:
            return f"must be {low}-{high} digits, got {value!r}"
        return None

    return check


def int_range(low: int, high: int) -> FieldCheck:
    def check(value: int) -> str | None:
        return None if low <= value <= high else f"must be {low}-{high}, got {value}"

    return check


def number_range(low: float, high: float) -> FieldCheck:
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be {low}-{high}, got {value}"

    return check


def length(low: int, high: int) -> FieldCheck:
    def check(value: str) -> str | None:
        if not low <= len(value) <= high:
            return f"must be {low}-{high} characters, got {len(value)}"
        return None

    return check


def one_of(values: Collection[Any]) -> FieldCheck:
    def check(value: Any) -> str | None:
        if value not in values:
            return f"must be one of {', '.join(str(v) for v in values)}, got {value!r}"
        return None

    return check


def all_of(*checks: FieldCheck) -> FieldCheck:
    def check(value: Any) -> str | None:
        for one in checks:
            problem = one(value)
            if problem:
                return problem
        return None

    return check
