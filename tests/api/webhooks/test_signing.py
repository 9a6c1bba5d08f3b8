"""Standard Webhooks signing: the specification's known answer, rotation and each failure mode."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.errors import SignatureError
from api.webhooks.signing import new_secret, secret_key, sign, sign_all, verify

# The known-answer vector of the Standard Webhooks reference library (standard-webhooks/
# standard-webhooks, libraries/python/tests/test_webhooks.py, test_sign_function).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature: str, msg_id: str = MSG_ID, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_sign_matches_the_specification_known_answer() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_the_prefix_is_optional() -> None:
    assert sign(SECRET.removeprefix("whsec_"), MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_verify_accepts_the_known_answer_within_tolerance() -> None:
    verify(SECRET, headers(EXPECTED), BODY, now=TIMESTAMP + 299)
    verify(SECRET, headers(EXPECTED), BODY, now=TIMESTAMP - 299)


def test_header_names_are_case_insensitive() -> None:
    upper = {k.upper(): v for k, v in headers(EXPECTED).items()}
    verify(SECRET, upper, BODY, now=TIMESTAMP)


def test_rotation_any_of_several_signatures_verifies() -> None:
    new = new_secret()
    both = f"{sign(SECRET, MSG_ID, TIMESTAMP, BODY)} {sign(new, MSG_ID, TIMESTAMP, BODY)}"
    verify(SECRET, headers(both), BODY, now=TIMESTAMP)
    verify(new, headers(both), BODY, now=TIMESTAMP)
    with pytest.raises(SignatureError, match="no matching"):
        verify(new_secret(), headers(both), BODY, now=TIMESTAMP)


def test_unknown_versions_and_garbage_entries_are_skipped() -> None:
    noisy = f"v2,{EXPECTED[3:]} junk v1,AAAA {EXPECTED}"
    verify(SECRET, headers(noisy), BODY, now=TIMESTAMP)
    with pytest.raises(SignatureError):
        verify(SECRET, headers(f"v2,{EXPECTED[3:]}"), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_fails(missing: str) -> None:
    partial = headers(EXPECTED)
    del partial[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, partial, BODY, now=TIMESTAMP)


def test_non_integer_timestamp_fails() -> None:
    bad = {**headers(EXPECTED), "webhook-timestamp": "hello"}
    with pytest.raises(SignatureError, match="integer"):
        verify(SECRET, bad, BODY, now=TIMESTAMP)


def test_stale_timestamp_fails() -> None:
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, headers(EXPECTED), BODY, now=TIMESTAMP + 301)


def test_future_timestamp_fails() -> None:
    with pytest.raises(SignatureError, match="too new"):
        verify(SECRET, headers(EXPECTED), BODY, now=TIMESTAMP - 301)


def test_tampered_body_id_or_timestamp_fails() -> None:
    with pytest.raises(SignatureError, match="no matching"):
        verify(SECRET, headers(EXPECTED), b'{"test": 2432232315}', now=TIMESTAMP)
    with pytest.raises(SignatureError, match="no matching"):
        verify(SECRET, headers(EXPECTED, msg_id="msg_other"), BODY, now=TIMESTAMP)
    with pytest.raises(SignatureError, match="no matching"):
        verify(SECRET, headers(EXPECTED, timestamp=TIMESTAMP + 1), BODY, now=TIMESTAMP)


def test_wrong_secret_fails() -> None:
    with pytest.raises(SignatureError, match="no matching"):
        verify(new_secret(), headers(EXPECTED), BODY, now=TIMESTAMP)


def test_new_secrets_are_24_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 24
    assert base64.b64decode(first.removeprefix("whsec_")) == secret_key(first)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", ""])
def test_malformed_secret_fails(secret: str) -> None:
    with pytest.raises(SignatureError):
        sign(secret, MSG_ID, TIMESTAMP, BODY)


def test_sign_all_signs_once_per_active_secret() -> None:
    other = new_secret()
    header = sign_all([SECRET, other], MSG_ID, TIMESTAMP, BODY)
    assert header.split(" ") == [EXPECTED, sign(other, MSG_ID, TIMESTAMP, BODY)]
    assert sign_all([SECRET], MSG_ID, TIMESTAMP, BODY) == EXPECTED


def test_the_independent_verifier_accepts_our_signatures_of_both_secrets() -> None:
    now, other = int(time.time()), new_secret()
    signed = headers(sign_all([SECRET, other], MSG_ID, now, BODY), timestamp=now)
    assert Webhook(SECRET).verify(BODY, signed) == {"test": 2432232314}
    assert Webhook(other).verify(BODY, signed) == {"test": 2432232314}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, signed)
