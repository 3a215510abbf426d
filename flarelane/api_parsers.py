"""JSON in API requests, strictly: numbers too large for a double (1e999) are refused rather
than turned into Infinity, and strings (keys too) may not contain NUL or a lone surrogate
(\\ud800 without its pair); the database's JSON columns (SQLite's JSON check, PostgreSQL's
jsonb) reject these, which would otherwise be a 500."""

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# json.loads joins an escaped pair (\ud83d\ude00) into one character, so a code point in this
# range left in a parsed string is half of a pair; it cannot be encoded as UTF-8 at all.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"The number {text[:30]} is too large.")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON.")


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(stream.read().decode(encoding), parse_float=_finite, parse_constant=_no_constants)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        problem = _refused_string(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data


def _refused_string(value: Any) -> str | None:
    """Why a string somewhere in the document (a key or a value) is refused, or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "strings may not contain the NUL character (\\u0000)."
        if _SURROGATE.search(value):
            return (
                "strings may not contain a lone surrogate (\\ud800 to \\udfff); "
                "send the character itself, or both halves of its surrogate pair."
            )
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _refused_string(key) or _refused_string(item)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = _refused_string(item)
            if problem:
                return problem
    return None
