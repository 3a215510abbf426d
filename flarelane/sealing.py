"""Encryption at rest for secret values (secret header values, sealed request headers).

Keys come from FIELD_ENCRYPTION_KEYS: the first seals, every one can open, so a key can be
rotated by putting the new one first. Any string works as a key; it is stretched to a
Fernet key with SHA-256.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SealBroken(Exception):
    """A sealed value could not be opened with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def seal(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SealBroken("A secret value cannot be decrypted: FIELD_ENCRYPTION_KEYS no longer holds its key.") from error
