"""JSON in API requests, strictly: numbers too large for a double (1e999) are refused rather
than turned into Infinity, and strings (keys too) may not contain NUL or a lone surrogate
(\\ud800 without its pair); the database's JSON columns (SQLite's JSON check, PostgreSQL's
jsonb) reject these, which would otherwise be a 500. Documents nested more than MAX_DEPTH
levels are refused too."""

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

# Objects and arrays inside each other, the document itself counting as the first level. Real
# payloads (tags, template data, journey graphs) stay within a handful; deeper is a mistake or
# an attack, and walking it would cost the server more than the request is worth.
MAX_DEPTH = 32
_TOO_DEEP = f"the document is nested more than {MAX_DEPTH} levels deep (objects and arrays inside each other)."


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
            raise ParseError(f"JSON parse error - {_TOO_DEEP}") from None
        problem = unstorable_json_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data


def unstorable_json_problem(document: Any) -> str | None:
    """Why the parsed document is refused (too deep, or a key or value with a character the
    database cannot store), or None. A loop, not recursion: the depth is what is checked."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            problem = _refused_string(value)
            if problem:
                return problem
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return _TOO_DEEP
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    problem = _refused_string(key)
                    if problem:
                        return problem
                pending.append((item, depth + 1))
    return None


def _refused_string(value: str) -> str | None:
    if "\x00" in value:
        return "strings may not contain the NUL character (\\u0000)."
    if _SURROGATE.search(value):
        return (
            "strings may not contain a lone surrogate (\\ud800 to \\udfff); "
            "send the character itself, or both halves of its surrogate pair."
        )
    return None
