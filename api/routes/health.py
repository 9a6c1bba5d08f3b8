"""`/healthz`: the api is up and its Redis answers."""

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError

from api.deps import RedisDep
from api.errors import ApiError
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(client: RedisDep) -> Health:
    """200 when Redis answers a PING, else 503 `TEMPORARILY_UNAVAILABLE`."""
    try:
        client.ping()
    except RedisError as exc:
        raise ApiError(503, "TEMPORARILY_UNAVAILABLE", f"redis unreachable: {exc}") from exc
    return Health(status="ok", redis=True)
