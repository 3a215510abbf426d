"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature). Pure.

The signed content is `{id}.{timestamp}.{body}`, HMAC-SHA256 with the secret's bytes,
sent as `v1,<base64>`. During a rotation both the new and the previous secret sign, space
separated, so receivers can switch keys without dropping a message.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
SECRET_BYTES = 24


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _secret_bytes(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def signature_headers(*, message_id: str, timestamp: int, body: bytes, secrets_newest_first: list[str]) -> list[tuple[str, str]]:
    signed_content = f"{message_id}.{timestamp}.".encode() + body
    signatures = [
        "v1," + base64.b64encode(hmac.new(_secret_bytes(secret), signed_content, hashlib.sha256).digest()).decode("ascii")
        for secret in secrets_newest_first
    ]
    return [
        ("webhook-id", message_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", " ".join(signatures)),
    ]
