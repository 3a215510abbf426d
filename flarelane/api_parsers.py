"""JSON in API requests, strictly: numbers too large for a double (1e999) are refused rather
than turned into Infinity, and strings may not contain NUL; the database's JSON columns
(SQLite's JSON check, PostgreSQL's jsonb) reject both, which would otherwise be a 500."""

import json
import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


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
        if _has_nul(data):
            raise ParseError("JSON parse error - strings may not contain the NUL character (\\u0000).")
        return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False
