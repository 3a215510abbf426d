"""What JSON the database can keep: its JSON columns (SQLite's JSON check, PostgreSQL's
jsonb) refuse NUL and lone surrogates in strings, and nothing here should walk documents
nested past MAX_DEPTH. The API refuses such input (api_parsers); a journey leaves such a
value of a receiver's answer out of the tags it saves."""

import re
from typing import Any

# json.loads joins an escaped pair (\ud83d\ude00) into one character, so a code point in this
# range left in a parsed string is half of a pair; it cannot be encoded as UTF-8 at all.
_SURROGATE = re.compile("[\ud800-\udfff]")

# Objects and arrays inside each other, the document itself counting as the first level. Real
# payloads (tags, template data, journey graphs) stay within a handful; deeper is a mistake or
# an attack, and walking it would cost the server more than the request is worth.
MAX_DEPTH = 32
TOO_DEEP = f"the document is nested more than {MAX_DEPTH} levels deep (objects and arrays inside each other)."


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
                return TOO_DEEP
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
