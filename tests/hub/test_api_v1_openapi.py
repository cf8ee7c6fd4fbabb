"""The OpenAPI document: a valid OpenAPI 3.1 document that documents exactly the mounted ``/api/v1`` routes, and
whose schemas the real answers of every operation satisfy."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from hub.web.context import CTX
from tests.fixtures.hub import RunningHub
from tests.hub.api_v1_support import Reply, call, token_for, two_units


def _mounted(hub: RunningHub) -> set[tuple[str, str]]:
    found = set()
    for route in hub.hub.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/v1/") and route.method != "HEAD":
            found.add((route.method.lower(), path))
    return found


def _template(doc: dict[str, Any], method: str, path: str) -> str:
    for template, operations in doc["paths"].items():
        pattern = "^" + re.sub(r"{\w+}", "[^/]+", template) + "$"
        if method in operations and re.match(pattern, path.split("?")[0]):
            return template
    raise AssertionError(f"{method} {path} is not documented")


def _check(doc: dict[str, Any], method: str, path: str, reply: Reply) -> None:
    """``reply`` has a documented status and satisfies its schema."""
    operation = doc["paths"][_template(doc, method, path)][method]
    assert str(reply.status) in operation["responses"], (method, path, reply.status, reply.body)
    schema = operation["responses"][str(reply.status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(
        {**schema, "components": doc["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(reply.body)]
    assert not errors, (method, path, errors[:5])


async def test_the_document_is_valid_and_matches_the_mounted_routes(live_hub: RunningHub) -> None:
    reply = await call(live_hub, "GET", "/api/v1/openapi.json")  # public: no token
    assert reply.status == 200
    doc = reply.body
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    documented = {(method, path) for path, operations in doc["paths"].items() for method in operations}
    assert documented == _mounted(live_hub)
    assert ("post", "/api/v1/work-orders") in documented and ("get", "/api/v1/work-orders/{number}") in documented
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            if operation.get("security") != []:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
                assert operation["x-roles"], (method, path)
    listing = doc["paths"]["/api/v1/work-orders"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"q", "phone", "state", "unit", "page", "per_page"}
    assert listing["x-roles"] == ["admin", "agent", "department", "leader", "supervisor"]


async def test_real_answers_satisfy_the_documented_schemas(live_hub: RunningHub) -> None:
    doc = (await call(live_hub, "GET", "/api/v1/openapi.json")).body
    mine, _other = await two_units(live_hub)
    async with live_hub.session.post(
        live_hub.url + "/webhooks/rest/webhook", json={"sender": "schema", "message": "路灯坏了三天了，转人工"}
    ) as r:
        assert r.status == 200
    agent = await token_for(live_hub, "agent1")
    kb = await token_for(live_hub, "kb")
    supervisor = await token_for(live_hub, "supervisor")
    conversations = await call(live_hub, "GET", "/api/v1/conversations", agent)
    cid = conversations.body["items"][0]["id"]
    contact = await live_hub.hub.app[CTX].conversations.ensure_contact_by_phone("13900000009", "李女士")
    requests: list[tuple[str, str, str | None, Any]] = [
        ("get", "/api/v1/me", agent, None),
        ("get", "/api/v1/work-orders?state=dispatched", agent, None),
        ("get", f"/api/v1/work-orders/{mine.number}", agent, None),
        ("get", "/api/v1/work-orders/000000000000", agent, None),
        ("get", "/api/v1/work-orders?per_page=500", agent, None),
        ("get", "/api/v1/work-orders", kb, None),
        ("get", "/api/v1/work-orders", None, None),
        ("post", f"/api/v1/work-orders/{mine.number}/actions/note", agent, {"note": "已联系"}),
        ("post", f"/api/v1/work-orders/{mine.number}/actions/close", agent, {}),
        ("post", "/api/v1/work-orders", agent, {"source": "letter", "type": "complaint", "description": "来信反映"}),
        ("post", "/api/v1/work-orders", agent, {"source": "letter", "type": "complaint", "description": ""}),
        ("get", "/api/v1/conversations?status=queued", agent, None),
        ("get", f"/api/v1/conversations/{cid}", agent, None),
        ("get", f"/api/v1/conversations/{cid}/messages", agent, None),
        ("post", f"/api/v1/conversations/{cid}/claim", agent, None),
        ("post", f"/api/v1/conversations/{cid}/messages", agent, {"text": "您好"}),
        ("post", f"/api/v1/conversations/{cid}/close", agent, {"outcome": "other"}),
        ("get", f"/api/v1/conversations/{cid}/notes", agent, None),
        ("post", f"/api/v1/conversations/{cid}/notes", agent, {"text": "市民情绪激动"}),
        ("post", f"/api/v1/conversations/{cid}/read", agent, {}),
        ("get", f"/api/v1/canned-replies?conversation={cid}", agent, None),
        ("post", "/api/v1/canned-replies", agent, {"shortcut": "hi", "title": "问候", "text": "{name}您好"}),
        ("patch", "/api/v1/canned-replies/999999", agent, {"title": "x"}),
        ("delete", "/api/v1/canned-replies/999999", agent, None),
        ("get", "/api/v1/contacts", agent, None),
        ("get", "/api/v1/search?q=路灯", agent, None),
        ("get", f"/api/v1/contacts/{contact.id}", agent, None),
        ("get", "/api/v1/agents/me/status", agent, None),
        ("put", "/api/v1/agents/me/status", agent, {"status": "break", "reason": "meal"}),
        ("put", "/api/v1/agents/me/status", agent, {"status": "lunch"}),
        ("get", "/api/v1/floor", supervisor, None),
    ]
    statuses = set()
    for method, path, token, body in requests:
        reply = await call(live_hub, method.upper(), path, token, json=body)
        _check(doc, method, path, reply)
        statuses.add(reply.status)
    assert statuses == {200, 201, 400, 401, 403, 404, 409, 422}
    covered = {(m, _template(doc, m, p)) for m, p, _t, _b in requests}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops if p != "/api/v1/openapi.json"}
    assert documented == covered
