"""Password hashing, signed bearer tokens and API key material."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from foredeck.errors import Unauthorized

_hasher = PasswordHasher()
API_KEY_PREFIX = "fdk_"
TOKEN_SALT = "foredeck.bearer"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def make_token(secret: str, user_id: int, stamp: str | None = None) -> str:
    """A bearer token; `stamp` is the user's credentials stamp, so a password change
    (a new stamp) turns every token made before it away."""
    payload: dict[str, object] = {"uid": user_id}
    if stamp:
        payload["cs"] = stamp
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT).dumps(payload)


def read_token(secret: str, token: str, max_age: int) -> tuple[int, str | None]:
    """The user id and credentials stamp a valid token carries."""
    try:
        data = URLSafeTimedSerializer(secret, salt=TOKEN_SALT).loads(token, max_age=max_age)
        return int(data["uid"]), (str(data["cs"]) if data.get("cs") else None)
    except SignatureExpired as exc:
        raise Unauthorized("The token has expired", code="TOKEN_EXPIRED") from exc
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Unauthorized("The token is not valid", code="INVALID_TOKEN") from exc


@dataclass(frozen=True)
class NewApiKey:
    secret: str
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(secret=secret, prefix=prefix, key_hash=hash_api_key(secret))


def hash_api_key(secret: str) -> str:
    # The key is 256 random bits, so a fast hash is safe and keeps each request cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key_prefix(secret: str) -> str | None:
    if not secret.startswith(API_KEY_PREFIX):
        return None
    rest = secret[len(API_KEY_PREFIX) :]
    prefix, sep, _ = rest.partition("_")
    return prefix if sep and len(prefix) == 8 else None
