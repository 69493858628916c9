"""ITNIO's own doc samples (tests/data/seeds), parsed: the request, its body and what the vendor's
Java and PHP sample code would put on the wire for it.

The Java samples declare each parameter `final Integer x` or `final String x` and hutool's JSON
writes an Integer as a JSON number; the PHP samples assign every parameter a quoted string
(`$dataArr['quantity'] = "{{quantity}}"`), which json_encode writes as a JSON string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SEEDS_DIR = Path(__file__).resolve().parent.parent / "data" / "seeds"
BASE_URL = "https://api.itniotech.com"
_JAVA_DECLARATION = re.compile(r"final (Integer|String) (\w+) =")
_JAVA_SET = re.compile(r'\.set\("(\w+)",\s*(\w+)\)')
_PHP_ASSIGN = re.compile(r"\$dataArr\['(\w+)'\]\s*=\s*(\"[^\"]*\"|\$\w+);")
_PHP_STRING_VAR = re.compile(r'\$(\w+)\s*=\s*"[^"]*";')


def _json_after(text: str, marker: str) -> Any:
    start = text.index("{", text.index(marker))
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


def _line_after(text: str, marker: str) -> str:
    return text[text.index(marker) + len(marker) :].strip().splitlines()[0].strip()


def _header(text: str, name: str) -> str:
    found = re.search(rf"^\s*{name}: (\S+)", text, re.MULTILINE)
    assert found, name
    return found.group(1)


@dataclass(frozen=True)
class Seed:
    number: str
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None  # the sample request body (GETs have none)
    response: dict[str, Any] | None  # the sample answer, when the page shows one
    java_integers: frozenset[str]  # body fields the Java sample declares Integer
    php_strings: frozenset[str]  # body fields the PHP sample assigns a string

    def java_body(self) -> dict[str, Any]:
        """The body as the Java sample sends it: Integers as JSON numbers, the rest strings."""
        assert self.body is not None
        return {
            name: int(value) if name in self.java_integers else str(value)
            for name, value in self.body.items()
        }

    def php_body(self) -> dict[str, Any]:
        """The body as the PHP sample sends it: every field a JSON string."""
        assert self.body is not None
        assert set(self.body) == self.php_strings, "a PHP field not assigned a string"
        return {name: str(value) for name, value in self.body.items()}


def encode(body: dict[str, Any], style: str) -> str:
    """Compact JSON as hutool (Java) or json_encode (PHP: ASCII only, "/" written "\\/")."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=style == "php")
    return text.replace("/", "\\/") if style == "php" else text


@cache
def seed(number: str) -> Seed:
    (path,) = SEEDS_DIR.glob(f"{number}_*.txt")
    text = path.read_text(encoding="utf-8")
    url = _line_after(text, "Request URL:")
    assert url.startswith(BASE_URL), url
    method = _line_after(text, "Request Method:")
    headers = {name: _header(text, name) for name in ("Content-Type", "Sign", "Timestamp")}
    headers["Api-Key"] = _header(text, "Api-Key")
    body = _json_after(text, "Request Body:") if "Request Body:" in text else None
    response = _json_after(text, "RESPONSEEXAMPLE") if "RESPONSEEXAMPLE" in text else None
    java, php = text.split("REQUEST\n", 2)[1:] if text.count("REQUEST\n") >= 2 else ("", "")
    types = dict((name, kind) for kind, name in _JAVA_DECLARATION.findall(java))
    integers = frozenset(field for field, var in _JAVA_SET.findall(java) if types[var] == "Integer")
    string_vars = set(_PHP_STRING_VAR.findall(php))
    strings = frozenset(
        field
        for field, value in _PHP_ASSIGN.findall(php)
        if value.startswith('"') or value[1:] in string_vars
    )
    return Seed(
        number=number,
        method=method,
        path=url.removeprefix(BASE_URL),
        headers=headers,
        body=body,
        response=response,
        java_integers=integers,
        php_strings=strings,
    )
