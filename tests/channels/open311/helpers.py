"""Shared helpers of the Open311 tests: the spec's field lists and type checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fixtures.hub import RunningHub

# GeoReport v2, GET Service List → service
SERVICE_FIELDS = {
    "service_code": str,
    "service_name": str,
    "description": str,
    "metadata": bool,
    "type": str,
    "keywords": str,
    "group": str,
}
# GeoReport v2, GET Service Requests / GET Service Request → request (None allowed where the spec says
# "may not be returned" or the value is optional)
REQUEST_FIELDS: dict[str, tuple[type, ...]] = {
    "service_request_id": (str,),
    "status": (str,),
    "status_notes": (str, type(None)),
    "service_name": (str,),
    "service_code": (str,),
    "description": (str,),
    "agency_responsible": (str, type(None)),
    "service_notice": (str, type(None)),
    "requested_datetime": (str,),
    "updated_datetime": (str,),
    "expected_datetime": (str, type(None)),
    "address": (str, type(None)),
    "address_id": (str, type(None)),
    "zipcode": (str, type(None)),
    "lat": (float, type(None)),
    "long": (float, type(None)),
    "media_url": (str, type(None)),
}
# POST Service Request → request (realtime: a service_request_id, never a token)
CREATED_FIELDS = {"service_request_id", "service_notice", "account_id"}
# FixMyStreet's GET Service Request Updates → request_update
UPDATE_FIELDS: dict[str, tuple[type, ...]] = {
    "update_id": (str,),
    "service_request_id": (str,),
    "status": (str,),
    "updated_datetime": (str,),
    "description": (str,),
    "media_url": (str, type(None)),
}


def w3(value: str) -> datetime:
    """Parse a w3 datetime and check it carries a timezone, as the spec requires."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    assert "T" in value, value
    return parsed


def check_request(doc: dict[str, Any]) -> None:
    """Every field of the spec's request, with the right type and values."""
    assert set(REQUEST_FIELDS) <= set(doc), set(REQUEST_FIELDS) - set(doc)
    for name, types in REQUEST_FIELDS.items():
        assert isinstance(doc[name], types), (name, doc[name])
    assert doc["status"] in ("open", "closed")
    w3(doc["requested_datetime"])
    w3(doc["updated_datetime"])
    if doc["expected_datetime"] is not None:
        w3(doc["expected_datetime"])


def check_update(doc: dict[str, Any]) -> None:
    """Every field of FixMyStreet's request_update."""
    assert set(UPDATE_FIELDS) <= set(doc), set(UPDATE_FIELDS) - set(doc)
    for name, types in UPDATE_FIELDS.items():
        assert isinstance(doc[name], types), (name, doc[name])
    assert doc["status"] in ("open", "closed")
    w3(doc["updated_datetime"])


def check_error(body: Any, code: int) -> str:
    """The spec's error document: a list of {code, description}; returns the first description."""
    assert isinstance(body, list) and body, body
    for error in body:
        assert set(error) == {"code", "description"}, error
        assert error["code"] == code
        assert isinstance(error["description"], str) and error["description"]
    return str(body[0]["description"])


async def call(running: RunningHub, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
    """One request to the hub; returns the status, the JSON body and the headers."""
    async with running.session.request(method, running.url + path, **kwargs) as resp:
        assert resp.content_type == "application/json", (resp.status, await resp.text())
        assert resp.charset == "utf-8"
        return resp.status, await resp.json(), resp.headers


async def post_request(running: RunningHub, api_key: str | None, **fields: str) -> tuple[int, Any]:
    """POST /open311/v2/requests.json, form-encoded."""
    data = dict(fields)
    if api_key is not None:
        data["api_key"] = api_key
    status, body, _ = await call(running, "POST", "/open311/v2/requests.json", data=data)
    return status, body
