"""Everything the HTTP handlers need, built by the composition root and stored on the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hub.conversation_service import ConversationService
from hub.dialogue.ports import KnowledgeBase
from hub.events import EventBus
from hub.file_store import ContentStore
from hub.localtime import CityTime
from hub.notices import NoticeRoutes
from hub.storage.conversations import ConversationStore
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.work_orders.registration import DeskRegistration
from hub.work_orders.service import WorkOrderService

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
SubjectLookup = Callable[[str], Awaitable[str | None]]  # conversation id -> its subject (an email thread's)
# (industry, category, district) -> the unit the dispatch rules choose (routing.dispatch, wired by the root)
UnitChooser = Callable[[str | None, str | None, str | None], str | None]
# (address, subject, text) -> sent; raises on failure (hub.outbox.PermanentFailure: retrying cannot help)
StaffAlertSend = Callable[[str, str, str], Awaitable[None]]


@dataclass
class HubContext:
    """Services shared by all handlers (one per process)."""

    conversations: ConversationStore
    users: UserStore
    work_orders: WorkOrderStore
    service: ConversationService
    bus: EventBus
    taxonomy: Callable[[], Taxonomy]
    orders: WorkOrderService | None = None  # the lifecycle service (department portal, centre pages)
    kb: KnowledgeBase | None = None  # suggestions next to a conversation in the inbox
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    channel_health: dict[str, HealthCheck] = field(default_factory=dict)
    secure_cookies: bool = False
    notice_routes: NoticeRoutes | None = None  # push channels for notices (the inbox's preference selector)
    subjects: dict[str, SubjectLookup] = field(default_factory=dict)  # per channel: what the inbox shows as subject
    city: CityTime = field(default_factory=CityTime)  # the city's zone: every page and API shows times in it
    choose_unit: UnitChooser | None = None  # the dispatch rules, for the desk's registration form and the API
    registration: DeskRegistration | None = None  # the desk's 受理 (registration pages, POST /api/v1/work-orders)
    staff_alerts: dict[str, StaffAlertSend] = field(default_factory=dict)  # "sms"/"email": alerts to departments
    reload_taxonomy: Callable[[], Awaitable[None]] | None = None  # after administrators changed units or categories
    outbound_files: ContentStore | None = None  # files sent to citizens (a department's photos): channels read them


CTX: web.AppKey[HubContext] = web.AppKey("hub_context", HubContext)
