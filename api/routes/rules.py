"""`/api/v1/rules`: user-defined alert rules on any logged scalar or window metric.

Reading needs a read token, creating and deleting an admin token. The analyzers read the rules
from Redis (`keys.RULES`) within a second and evaluate them next to the built-in detectors
(`analyzer.service.rule_engine`); their alerts (`rule.<condition>`) flow through the same
webhooks and cooldowns.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from analyzer.records import Rule
from analyzer.service import keys
from api.auth import ADMIN, READ
from api.deps import RedisDep
from api.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], dependencies=[READ])

RuleId = Annotated[str, Path(pattern=r"^rule_[0-9a-f]{1,32}$")]
MAX_RULES = 1000


class RuleList(BaseModel):
    """`GET /rules`: every rule, oldest first."""

    rules: list[Rule]


@router.post("", status_code=201, dependencies=[ADMIN])
def create_rule(body: Rule, client: RedisDep) -> Rule:
    """Add a rule; the server assigns its `id`."""
    if body.id:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "id is assigned by the server")
    if client.hlen(keys.RULES) >= MAX_RULES:
        raise ApiError(409, "RESOURCE_EXHAUSTED", f"at most {MAX_RULES} rules")
    rule = body.model_copy(update={"id": f"rule_{int(time.time()):x}{uuid.uuid4().hex[:12]}"})
    client.hset(keys.RULES, rule.id, rule.model_dump_json())
    return rule


@router.get("")
def list_rules(client: RedisDep) -> RuleList:
    """Every rule, oldest first."""
    rules = [Rule.model_validate_json(doc) for doc in client.hvals(keys.RULES)]
    return RuleList(rules=sorted(rules, key=lambda r: r.id))


@router.get("/{rule_id}")
def get_rule(rule_id: RuleId, client: RedisDep) -> Rule:
    """One rule."""
    doc = client.hget(keys.RULES, rule_id)
    if doc is None:
        raise not_found(f"rule {rule_id!r}")
    return Rule.model_validate_json(doc)


@router.delete("/{rule_id}", status_code=204, dependencies=[ADMIN])
def delete_rule(rule_id: RuleId, client: RedisDep) -> Response:
    """Remove a rule; alerts it raised stay."""
    if not client.hdel(keys.RULES, rule_id):
        raise not_found(f"rule {rule_id!r}")
    return Response(status_code=204)
