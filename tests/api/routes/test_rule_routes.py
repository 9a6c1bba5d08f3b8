"""`/api/v1/rules`: create, list, read and delete user rules; validation and scopes."""

from __future__ import annotations

import httpx

from analyzer.records import Rule


def test_rules_are_created_listed_read_and_deleted(
    http: httpx.Client, api_url: str, read_token: str
) -> None:
    body = {"metric": "edge_ratio", "source": "window", "condition": "below", "threshold": 1.1,
            "project": "lm", "window": 20}  # fmt: skip
    made = http.post("/api/v1/rules", json=body)
    assert made.status_code == 201
    rule = Rule.model_validate(made.json())
    try:
        assert rule.id.startswith("rule_") and rule.threshold == 1.1 and rule.lookback == 20
        reader = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {read_token}"})
        with reader:
            listed = reader.get("/api/v1/rules").json()["rules"]
            assert rule.model_dump() in listed
            assert reader.get(f"/api/v1/rules/{rule.id}").json() == made.json()
            assert reader.post("/api/v1/rules", json=body).status_code == 403
            assert reader.delete(f"/api/v1/rules/{rule.id}").status_code == 403
    finally:
        assert http.delete(f"/api/v1/rules/{rule.id}").status_code == 204
    assert http.get(f"/api/v1/rules/{rule.id}").status_code == 404
    assert http.delete(f"/api/v1/rules/{rule.id}").status_code == 404


def test_bad_rules_are_refused_with_the_reason(http: httpx.Client) -> None:
    for body, why in [
        ({"metric": "val_loss", "condition": "above"}, "finite threshold"),
        ({"metric": "val_loss", "condition": "stall"}, "seconds"),
        ({"metric": "val_loss", "condition": "sideways"}, "condition"),
        ({"metric": "val_loss", "condition": "nonfinite", "window": 10}, "window metrics"),
        ({"metric": "val_loss", "condition": "nonfinite", "treshold": 1}, "treshold"),
        ({"metric": "val_loss", "condition": "nonfinite", "id": "rule_1"}, "assigned"),
    ]:
        refused = http.post("/api/v1/rules", json=body)
        assert refused.status_code in (400, 422) and why in refused.text, (body, refused.text)
    assert http.get("/api/v1/rules/not-a-rule").status_code in (400, 422)
