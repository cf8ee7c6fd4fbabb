"""Flow versions in the database and the active flow, reloadable at runtime.

:meth:`IvrFlows.open` installs the shipped default 12319 flow as version 1 on the first start and loads the active
version into :attr:`IvrFlows.holder`; the call session reads ``holder()`` when a call arrives, so a saved or
re-activated version applies to the next call. Another hub process picks a change up with
:meth:`IvrFlows.refresh_if_changed` (one small query).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from channels.voice.ivr.flow import Flow, FlowError
from channels.voice.ivr.flow_store import FlowVersion, IvrFlowStore
from channels.voice.ivr.loader import load_flow

log = logging.getLogger(__name__)

DEFAULT_FLOW_PATH = Path(__file__).parent / "flows" / "default_12319.yaml"
MAIN = "main"


class FlowHolder:
    """Holds the active flow (replaced when administrators save or activate a version)."""

    def __init__(self, flow: Flow, version_id: int | None) -> None:
        self.current = flow
        self.version_id = version_id

    def __call__(self) -> Flow:
        return self.current


class IvrFlows:
    """The versions of one flow (``name``) and its holder."""

    def __init__(self, store: IvrFlowStore, holder: FlowHolder, name: str = MAIN) -> None:
        self.store = store
        self.holder = holder
        self.name = name

    @classmethod
    async def open(cls, engine: AsyncEngine, *, name: str = MAIN, default: Path = DEFAULT_FLOW_PATH) -> IvrFlows:
        """Install the default flow if the database has none, then load the active version."""
        store = IvrFlowStore(engine)
        document = await asyncio.to_thread(default.read_text, encoding="utf-8")
        fallback = load_flow(document)
        installed = await store.add(name, document, created_by=None, comment="default 12319 flow", only_if_empty=True)
        if installed is not None:
            log.info("installed the default IVR flow as %s version %d", name, installed.version)
        flows = cls(store, FlowHolder(fallback, None), name)
        await flows.reload()
        return flows

    async def reload(self) -> Flow:
        """Load the active version into the holder (an invalid stored version keeps the current flow)."""
        version = await self.store.active(self.name)
        if version is None:
            log.warning("no active IVR flow %r; keeping the current one", self.name)
            return self.holder.current
        try:
            flow = load_flow(version.document)
        except FlowError as exc:
            log.error("IVR flow %r v%d is invalid (%s); keeping the current one", self.name, version.version, exc)
            return self.holder.current
        self.holder.current, self.holder.version_id = flow, version.id
        return flow

    async def refresh_if_changed(self) -> bool:
        """Reload if another process activated a different version; True if it did."""
        active = await self.store.active_id(self.name)
        if active is None or active == self.holder.version_id:
            return False
        await self.reload()
        return True

    @staticmethod
    def validate(document: str) -> Flow:
        """Parse and validate a document (FlowError with every problem)."""
        return load_flow(document)

    async def save(self, document: str, *, user_id: int | None, comment: str | None = None) -> FlowVersion:
        """Validate, store as a new version, activate and reload.

        Raises:
            FlowError: the document is invalid; nothing is stored.
        """
        flow = load_flow(document)
        version = await self.store.add(self.name, document, created_by=user_id, comment=comment)
        assert version is not None
        self.holder.current, self.holder.version_id = flow, version.id
        log.info("IVR flow %r version %d saved and activated by user %s", self.name, version.version, user_id)
        return version

    async def activate(self, version_id: int, *, user_id: int | None) -> FlowVersion:
        """Activate an older version (validated again first) and reload.

        Raises:
            FlowVersionNotFound: no such version of this flow.
            FlowError: the stored document does not validate any more.
        """
        version = await self.store.get(version_id)
        flow = load_flow(version.document)
        version = await self.store.activate(version_id, self.name)
        self.holder.current, self.holder.version_id = flow, version.id
        log.info("IVR flow %r version %d activated by user %s", self.name, version.version, user_id)
        return version

    async def history(self) -> list[FlowVersion]:
        """The versions, newest first."""
        return await self.store.history(self.name)

    async def active(self) -> FlowVersion | None:
        """The active version."""
        return await self.store.active(self.name)
