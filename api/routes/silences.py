"""`/api/v1/silences`: keep the webhooks quiet for matching alerts until an expiry (see
`api.silences`). Listing needs a read token, creating and deleting an admin token. Alerts stay
in the streams and the listings (marked `silenced`); only their deliveries are held back."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from analyzer.service import keys
from api.auth import ADMIN, READ
from api.deps import RedisDep
from api.errors import ApiError, not_found
from api.silences import Silence, SilenceCreate, decode

router = APIRouter(prefix="/api/v1/silences", tags=["alerts"], dependencies=[READ])

SilenceId = Annotated[str, Path(pattern=r"^sil_[0-9a-f]{1,32}$")]
MAX_SILENCES = 1000
KEEP_EXPIRED = 86_400.0  # seconds an expired silence stays listed before it is dropped


class SilenceList(BaseModel):
    """`GET /silences`: silences, soonest to expire first."""

    silences: list[Silence]


@router.post("", status_code=201, dependencies=[ADMIN])
def create_silence(body: SilenceCreate, client: RedisDep) -> Silence:
    """Silence matching alerts for `seconds` or until `expires_at`."""
    now = time.time()
    stale = [s.id for s in decode(client.hvals(keys.SILENCES)) if s.expires_at < now - KEEP_EXPIRED]
    if stale:
        client.hdel(keys.SILENCES, *stale)
    if client.hlen(keys.SILENCES) >= MAX_SILENCES:
        raise ApiError(409, "RESOURCE_EXHAUSTED", f"at most {MAX_SILENCES} silences")
    expires = body.expires_at if body.expires_at is not None else now + (body.seconds or 0.0)
    if expires <= now:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "expires_at lies in the past")
    fields = body.model_dump(exclude={"seconds", "expires_at"})
    silence = Silence(
        id=f"sil_{uuid.uuid4().hex[:24]}", created_at=now, expires_at=expires, **fields
    )
    client.hset(keys.SILENCES, silence.id, silence.model_dump_json())
    return silence


@router.get("")
def list_silences(
    client: RedisDep, expired: Annotated[bool, Query(description="include expired")] = False
) -> SilenceList:
    """Active silences (with `expired`, the recently expired too), soonest to expire first."""
    now = time.time()
    found = [s for s in decode(client.hvals(keys.SILENCES)) if expired or s.active(now)]
    return SilenceList(silences=sorted(found, key=lambda s: s.expires_at))


@router.delete("/{silence_id}", status_code=204, dependencies=[ADMIN])
def delete_silence(silence_id: SilenceId, client: RedisDep) -> Response:
    """End a silence now."""
    if not client.hdel(keys.SILENCES, silence_id):
        raise not_found(f"silence {silence_id!r}")
    return Response(status_code=204)
