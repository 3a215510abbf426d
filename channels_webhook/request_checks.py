"""Rules a rendered request must meet before it may be sent. Pure: no ORM, no I/O.

These checks run after rendering and before the SSRF guard, so that a header carrying a
line break or a URL with a `file:` scheme never reaches the transport. Messages are
sentences that say what to change, and never repeat a value (it may be a secret).
"""

import re
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 4096
# RFC 9110 token characters.
HEADER_NAME_PATTERN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Set by the transport; a webhook may not override them.
RESERVED_HEADER_NAMES = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class RequestRejected(Exception):
    """The rendered request breaks a rule; `message` is safe to show to staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def header_name_problem(name: str) -> str | None:
    if not name:
        return "A header has no name."
    if not HEADER_NAME_PATTERN.match(name):
        return f"Header name '{name[:60]}' may only contain letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons)."
    if name.lower() in RESERVED_HEADER_NAMES:
        return f"Header '{name}' is set by the sender and cannot be overridden."
    return None


def check_header(name: str, value: str, *, rendered_from: list[str]) -> str:
    """Return the value to send (surrounding spaces removed) or raise RequestRejected."""
    source = f" (rendered from {', '.join(rendered_from)})" if rendered_from else ""
    if "\r" in value or "\n" in value:
        raise RequestRejected(
            f"Header '{name}' contains a line break{source}. Remove it from the data, or add '| strip' to the template."
        )
    if "\x00" in value or any(ord(ch) < 32 and ch != "\t" for ch in value) or "\x7f" in value:
        raise RequestRejected(f"Header '{name}' contains a control character{source}.")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise RequestRejected(
            f"Header '{name}' contains characters that cannot be sent in an HTTP header{source}. "
            "Use '| url_encode' or '| base64_encode' in the template."
        ) from None
    return value.strip(" \t")


def check_text_body(text: str) -> None:
    """A text body may carry any character but NUL: the history keeps the bytes every retry
    sends as text, which PostgreSQL refuses with NUL in it (JSON escapes it, forms encode it)."""
    if "\x00" in text:
        raise RequestRejected(
            "The body contains a NUL character (\\x00) after rendering; remove it from the data, "
            "or use '| url_encode' or '| base64_encode' on the value."
        )


def check_url(url: str) -> str:
    """Return the URL to send or raise RequestRejected."""
    url = url.strip()
    if not url:
        raise RequestRejected("The URL is empty after rendering.")
    if len(url) > MAX_URL_LENGTH:
        raise RequestRejected(f"The URL is longer than {MAX_URL_LENGTH} characters after rendering.")
    if any(ch in url for ch in "\r\n\t ") or any(ord(ch) < 32 for ch in url):
        raise RequestRejected("The URL contains whitespace or a line break after rendering; use '| url_encode' on values.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RequestRejected(f"The URL is not valid: {error}.") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise RequestRejected(f"The URL must start with http:// or https:// (found '{parts.scheme or url[:20]}').")
    if not parts.hostname:
        raise RequestRejected("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise RequestRejected(
            "The URL contains a user name or password. Put credentials in an Authorization header marked secret, "
            "so that they are masked in history."
        )
    if port == 0:
        raise RequestRejected("The URL's port must be between 1 and 65535.")
    return url
