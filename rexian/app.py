"""Builds a running hub from :class:`rexian.settings.Settings`: the one place where everything is wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

import channels.voice.web as voice_web
from channels import email, open311, rest, sms, telegram, voice, web_chat
from channels.voice.call_store import CallStore
from channels.voice.hub_port import VoiceHub
from channels.voice.ivr import web as ivr_web
from channels.voice.ivr.store import IvrFlows
from channels.voice.prompt_checks import PromptChecks, for_hub
from channels.voice.service import VoiceChannel
from channels.voice.sip_accounts import SipAccountStore
from channels.voice.transfer_web import setup as setup_call_transfers
from hub.conversation_service import ConversationService
from hub.dialogue.engine import DialogueEngine
from hub.dialogue.jurisdiction import Directory
from hub.events import EventBus
from hub.file_store import ContentStore
from hub.nlu import NluService
from hub.notices import NoticeRoutes
from hub.outbox import Outbox, RetryPolicy
from hub.storage.conversations import ConversationStore
from hub.storage.engine import create_engine
from hub.storage.outbox import OutboxStore
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.storage.work_orders import WorkOrderStore
from hub.taxonomy import Taxonomy
from hub.web.app import create_app
from hub.web.context import HubContext
from hub.work_orders import live as orders_live
from hub.work_orders import portal as orders_pages
from hub.work_orders import units_admin
from hub.work_orders.alerts import UnitAlerts
from hub.work_orders.calendar import WorkingCalendar, calendar_from_rows
from hub.work_orders.notifier import CitizenNotifier
from hub.work_orders.registration import DeskRegistration
from hub.work_orders.service import WorkOrderService
from knowledge_base import web as kb_web
from knowledge_base.hub_adapter import AnnouncementBoard, IndexedKnowledgeBase
from knowledge_base.service import KnowledgeService
from knowledge_base.store import KnowledgeStore
from nlu import web as nlu_admin
from rexian.demo import load_demo
from rexian.nlu_supervisor import SupervisedNlu
from rexian.schema import migrate
from rexian.settings import Settings
from routing import floor as supervisor_floor
from routing import inbox, text_position
from routing import transfer as conversation_transfer
from routing.desk import RuleDispatchDesk
from routing.dispatch import match_unit
from routing.inbox_common import InboxSettings
from routing.switchboard import SWITCHBOARD, Switchboard

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """A wired hub: its web app plus what must be started and stopped with it."""

    settings: Settings
    engine: AsyncEngine
    session: aiohttp.ClientSession
    nlu: SupervisedNlu
    service: ConversationService
    kb: IndexedKnowledgeBase
    app: web.Application
    outbox: Outbox | None = None
    ivr_flows: IvrFlows | None = None  # the active IVR flow (holder) and its versions
    voice: VoiceChannel | None = None  # the SIP endpoint (None: voice is off)
    prompt_checks: PromptChecks | None = None  # the IVR editor's intelligibility checks

    async def close(self) -> None:
        """Stop background work and release connections."""
        await self.service.drain()
        await self.nlu.close()
        await self.session.close()
        await self.engine.dispose()


class CalendarHolder:
    """Holds the current holiday calendar (replaced after administrators edit it)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.current = calendar

    def __call__(self) -> WorkingCalendar:
        return self.current


async def watch_deadlines(orders: WorkOrderService, every_s: float) -> None:
    """Warn before due and remind overdue orders, every ``every_s`` seconds, for as long as the hub runs."""
    while True:
        try:
            counts = await orders.watch_deadlines()
            if any(counts.values()):
                log.info("deadline watch: %s", counts)
        except Exception:
            log.exception("deadline watch failed; retrying next round")
        await asyncio.sleep(every_s)


class TaxonomyHolder:
    """Holds the current taxonomy snapshot (replaced after administrators edit it)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.current = taxonomy

    def __call__(self) -> Taxonomy:
        return self.current


async def prepare_store(settings: Settings) -> AsyncEngine:
    """Create the data dir, migrate the schema, load demo data if asked and the store is empty."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.db_url)
    await migrate(engine)
    if settings.demo:
        await load_demo(engine, UserStore(engine))
    return engine


async def build_hub(settings: Settings, nlu_service: NluService | None = None) -> Hub:
    """Wire storage, NLU, knowledge base, dispatch, dialogue and the web app.

    ``nlu_service`` replaces the Rasa-backed NLU (tests of the dialogue logic use a scripted one).
    """
    engine = await prepare_store(settings)
    bus = EventBus()
    conversations = ConversationStore(engine)
    users = UserStore(engine)
    city = settings.city  # the one configured zone, handed to everything that shows or parses times
    orders = WorkOrderStore(engine, tz=city.zone)
    taxonomy = TaxonomyHolder(await load_taxonomy(engine))
    kb = IndexedKnowledgeBase(engine)
    await kb.reload(taxonomy())
    notices = AnnouncementBoard(engine, taxonomy())
    await notices.reload()
    session = aiohttp.ClientSession()
    nlu = SupervisedNlu(
        session,
        url=settings.rasa_url,
        start=settings.start_rasa,
        timeout=settings.nlu_timeout,
        log_path=settings.data_dir / "rasa-server.log",
    )
    calendar = CalendarHolder(calendar_from_rows(await orders.calendar_days()))
    order_service = WorkOrderService(
        orders, taxonomy, calendar, bus, tz=city.zone, emergency_sign_minutes=settings.emergency_sign_minutes
    )
    desk = RuleDispatchDesk(orders, conversations, taxonomy, bus, order_service)
    referrals = Directory.load(settings.referral_directory)  # jurisdiction (default hub/dialogue/referrals.yaml)
    dialogue = DialogueEngine(
        nlu_service or nlu, kb, desk, taxonomy(), settings.bot, announcements=notices, referrals=referrals
    )
    service = ConversationService(conversations, dialogue, bus)
    desk.contacts = service  # the desk links contacts through the service that runs it (ADR 0022)
    notice_routes = NoticeRoutes(service)
    outbound_files = ContentStore(settings.data_dir / "attachments" / "outbound")  # e.g. a department's photos
    CitizenNotifier(
        service,
        taxonomy,
        bus,
        notice_routes,
        orders=orders,
        attachments_dir=settings.data_dir / "attachments",  # the order pages' uploads (orders_pages.setup)
        photos=outbound_files,
    ).attach()
    outbox = Outbox(
        OutboxStore(engine), conversations, RetryPolicy(settings.outbox_retry_base_s, settings.outbox_retry_max_s)
    )
    outbox.attach(bus)

    async def database_health() -> dict[str, Any]:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return {"status": "ok", "backend": engine.url.get_backend_name()}

    async def kb_health() -> dict[str, Any]:
        return {"status": "ok", "articles": kb.size}

    ctx = HubContext(
        conversations=conversations,
        users=users,
        work_orders=orders,
        service=service,
        bus=bus,
        taxonomy=taxonomy,
        orders=order_service,
        kb=kb,
        health_checks={
            "database": database_health,
            "nlu": (nlu_service or nlu).status,
            "knowledge_base": kb_health,
        },
        secure_cookies=settings.secure_cookies,
        notice_routes=notice_routes,
        city=city,
        choose_unit=lambda industry, category, district: match_unit(taxonomy().rules, industry, category, district),
    )

    async def reload_taxonomy() -> None:
        taxonomy.current = await load_taxonomy(engine)

    ctx.reload_taxonomy = reload_taxonomy
    ctx.outbound_files = outbound_files
    unit_alerts = UnitAlerts(
        order_service, bus, ctx.staff_alerts, RetryPolicy(settings.outbox_retry_base_s, settings.outbox_retry_max_s)
    )
    unit_alerts.attach()  # SMS/e-mail alerts to departments (senders registered by the channels below)
    ctx.registration = DeskRegistration(order_service, service, taxonomy, ctx.choose_unit, notice_routes, city)
    ivr_flows = await IvrFlows.open(engine)  # installs the default 12319 flow on the first start
    routing_settings = settings.routing
    if settings.voice is not None:
        routing_settings = routing_settings.with_voice(
            offer_timeout_s=settings.voice.agent_ring_s, max_wait_s=settings.voice.max_wait_s
        )
    switchboard = Switchboard(routing_settings, engine, service, city)
    app = create_app(
        ctx,
        template_dirs=[
            orders_pages.TEMPLATE_DIR,
            inbox.TEMPLATE_DIR,
            kb_web.TEMPLATE_DIR,
            nlu_admin.TEMPLATE_DIR,
            web_chat.TEMPLATE_DIR,
            sms.TEMPLATE_DIR,
            ivr_web.TEMPLATE_DIR,
            voice_web.TEMPLATE_DIR,
        ],
    )
    # agents are shown the same knowledge-base matches the bot would offer a citizen, no weaker ones
    app[SWITCHBOARD] = switchboard
    inbox.setup(app, InboxSettings(kb_floor=settings.bot.kb_offer_threshold))
    text_position.setup(app)  # waiting text citizens are told their position
    conversation_transfer.setup(app)  # transfer to an agent, a queue or a department (needs the inbox's stores)
    supervisor_floor.setup(app)  # /supervisor/floor, its actions, GET /api/v1/floor (after the inbox: its static files)
    web_chat.setup(app, data_dir=settings.data_dir)  # photos under <data dir>/attachments/web_chat
    orders_live.setup(app)  # before the order pages: /orders/live is not an order number
    orders_pages.setup(app, settings.data_dir / "attachments")
    units_admin.setup(app)
    rest.setup(app)
    kb_service = KnowledgeService(KnowledgeStore(engine), taxonomy, lambda: kb.reload(taxonomy()), city=city)
    kb_web.setup(app, kb_service, notices.reload)
    open311.setup(app, engine=engine, desk=desk)
    nlu_admin.setup(app, engine, nlu)
    voice_web.setup(  # audio, /calls, /agent/softphone: mounted with voice on or off
        app,
        data_dir=settings.data_dir,
        settings=settings.voice,
        calls=CallStore(engine),
        accounts=SipAccountStore(engine),
        engine=engine,
    )
    if telegram.setup(
        app,
        outbox,
        token=settings.telegram_token,
        secret=settings.telegram_secret,
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
        polling=settings.telegram_polling,
        retry=(settings.outbox_retry_base_s, settings.outbox_retry_max_s),
        data_dir=settings.data_dir,
    ):
        notice_routes.register(telegram.CHANNEL_TELEGRAM, lambda contact: contact.telegram_id)
    mail = email.setup(app, outbox, settings=settings.email, engine=engine, data_dir=settings.data_dir)
    if mail is not None:
        notice_routes.register(email.CHANNEL_EMAIL, lambda contact: contact.email)
    if sms.setup(app, outbox, engine, settings.sms):  # starts/stops its SMPP session with the app
        notice_routes.register(sms.CHANNEL_SMS, lambda contact: contact.phone)
    voice_channel = voice.setup(
        app,
        settings.voice,
        hub=VoiceHub(
            conversations=service,
            work_orders=orders,
            calls=CallStore(engine),
            nlu=nlu_service or nlu,
            taxonomy=taxonomy,
            notices=notices,
            data_dir=settings.data_dir,
        ),
        flows=ivr_flows,
        accounts=SipAccountStore(engine),
        switchboard=switchboard,
        calendar=calendar,
    )
    setup_call_transfers(app, lambda: voice_channel.transfers if voice_channel is not None else None)
    prompt_checks = for_hub(settings.data_dir, settings.voice, lambda: voice_channel, enabled=settings.prompt_check)
    ivr_web.setup(app, ivr_flows, prompt_checks)

    async def close_prompt_checks(_app: web.Application) -> None:
        await prompt_checks.close()

    app.on_cleanup.insert(0, close_prompt_checks)
    hub = Hub(settings, engine, session, nlu, service, kb, app, outbox)
    hub.ivr_flows = ivr_flows
    hub.voice = voice_channel
    hub.prompt_checks = prompt_checks

    watcher: list[asyncio.Task[None]] = []

    async def start_switchboard(_app: web.Application) -> None:
        await switchboard.start()  # before the channels start: a softphone registering signs its agent in

    async def close_switchboard(_app: web.Application) -> None:
        await switchboard.close()

    app.on_startup.insert(0, start_switchboard)
    app.on_cleanup.append(close_switchboard)

    async def on_startup(_app: web.Application) -> None:
        nlu.start()
        recovered = await service.recover()
        if recovered:
            log.warning("handled messages of %d conversations left unhandled by the last run", recovered)
        watcher.append(asyncio.create_task(watch_deadlines(order_service, settings.deadline_scan_seconds)))
        outbox.start()
        await unit_alerts.resync()
        unit_alerts.start()
        if mail is not None:
            mail.start()

    async def on_cleanup(_app: web.Application) -> None:
        if mail is not None:
            await mail.stop()
        await outbox.stop()
        await unit_alerts.stop()
        for task in watcher:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return hub
