"""A stored delivery request as a cURL command, for "Copy as cURL" in the console.

Pure: it takes the request as history stores it for display. Secret header values are
already masked there, and this module must never be handed the sealed headers: the command
is shown in a page and copied to clipboards.
"""

from __future__ import annotations

from collections.abc import Sequence

# curl treats [] and {} in a URL as glob patterns; a URL that contains them must be sent as is.
_CURL_GLOB_CHARACTERS = frozenset("[]{}")


def shell_quote(value: str) -> str:
    """POSIX single quotes: everything inside is literal except `'`, which closes, escapes and reopens."""
    return "'" + value.replace("'", "'\\''") + "'"


def curl_command(*, method: str, url: str, headers: Sequence[Sequence[str]], body: str) -> str:
    """One option per line, so a long request stays readable and each part can be edited."""
    verb = method if method.isalpha() else shell_quote(method)
    lines = [f"curl -X {verb} {shell_quote(url)}"]
    if _CURL_GLOB_CHARACTERS.intersection(url):
        lines.append("--globoff")
    lines.extend(f"-H {shell_quote(f'{name}: {value}')}" for name, value in headers)
    if body:
        # --data-raw, unlike --data, does not read a file when the body starts with "@".
        lines.append(f"--data-raw {shell_quote(body)}")
    return " \\\n  ".join(lines)
