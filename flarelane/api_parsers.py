"""JSON in API requests, strictly: numbers too large for a double (1e999) are refused rather
than turned into Infinity, and strings (keys too) may not contain NUL or a lone surrogate
(\\ud800 without its pair); the database's JSON columns (SQLite's JSON check, PostgreSQL's
jsonb) reject these, which would otherwise be a 500 (see storable_json). Documents nested more than MAX_DEPTH
levels are refused too."""

import json
import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from flarelane.storable_json import TOO_DEEP, unstorable_json_problem


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
        except RecursionError:
            # Only a document nested about a thousand levels gets here; say what is wrong with it.
            raise ParseError(f"JSON parse error - {TOO_DEEP}") from None
        problem = unstorable_json_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
