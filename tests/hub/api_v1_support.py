"""Helpers of the staff API tests: tokens for the demo accounts, bearer requests, orders in two units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hub.models import WorkOrder
from hub.storage.schema import users
from hub.web.api_v1.routes import API_TOKENS
from hub.web.context import CTX
from tests.fixtures.hub import RunningHub
from tests.fixtures.work_orders import register_streetlight

ROLES_USERS = {
    "agent": "agent1",
    "supervisor": "supervisor",
    "leader": "leader",
    "department": "dept",  # 市路灯管理所 (streetlight_office)
    "knowledge_manager": "kb",
    "admin": "admin",
}


@dataclass
class Reply:
    """An API answer."""

    status: int
    body: Any
    headers: dict[str, str]


async def user_id(hub: RunningHub, username: str) -> int:
    """The id of a demo account."""
    async with hub.hub.engine.connect() as conn:
        found = await conn.scalar(sa.select(users.c.id).where(users.c.username == username))
    assert found is not None, username
    return int(found)


async def token_for(hub: RunningHub, username: str, name: str = "test") -> str:
    """A new personal access token of ``username`` (through the store the API itself uses)."""
    _record, secret = await hub.hub.app[API_TOKENS].create(await user_id(hub, username), name)
    return secret


async def call(
    hub: RunningHub,
    method: str,
    path: str,
    token: str | None = None,
    json: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    data: str | None = None,
) -> Reply:
    """One request to the API with ``Authorization: Bearer token`` (no cookie)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with hub.session.request(
        method, hub.url + path, json=json, data=data, params=params, headers=sent, allow_redirects=False
    ) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return Reply(resp.status, body, dict(resp.headers))


async def two_units(hub: RunningHub) -> tuple[WorkOrder, WorkOrder]:
    """An order of the streetlight office (the ``dept`` account's unit) and one of the water group."""
    service = hub.hub.app[CTX].orders
    assert service is not None
    mine = await register_streetlight(service, phone="13900000001", address="城东区幸福路12号")
    other = await register_streetlight(
        service,
        industry="water",
        category=None,
        unit="water_group",
        phone="13900000002",
        address="城西区人民路88号",
        description="停水三天了",
    )
    return mine, other
