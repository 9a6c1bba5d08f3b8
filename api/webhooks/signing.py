"""Standard Webhooks signatures: pure `sign` and `verify`, the clock passed in.

A signature is `v1,` + base64(HMAC-SHA256(key, f"{msg_id}.{timestamp}.{body}")), where the key is
the base64 decoding of the secret after its `whsec_` prefix. The `webhook-signature` header may
carry several space-separated signatures (one per active secret while a secret is rotated).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from api.errors import SignatureError

PREFIX = "whsec_"
TOLERANCE = 300
SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh random secret, `whsec_` + base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret (with or without its `whsec_` prefix)."""
    raw = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the secret is not base64") from exc
    if not key:
        raise SignatureError("the secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_all(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per active secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: int, tolerance: int = TOLERANCE
) -> None:
    """Check a received message's headers against its body; raise SignatureError if it fails."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    if timestamp < now - tolerance:
        raise SignatureError("message timestamp too old")
    if timestamp > now + tolerance:
        raise SignatureError("message timestamp too new")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in signatures.split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(expected, candidate.encode()):
            return
    raise SignatureError("no matching signature")
