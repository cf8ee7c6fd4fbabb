"""Every table of the hub on one metadata: the core schema plus the feature modules that declare their own.

Alembic and the schema-vs-migrations test import this module, so a table is never missed (a missed one would
make autogenerate propose dropping it).
"""

from __future__ import annotations

from hub.storage import (  # noqa: F401 - imported for their tables
    calls,
    email,
    ivr_flows,
    knowledge,
    nlu_feedback,
    open311,
    outbox,
    sip_accounts,
    sms,
)
from hub.storage.schema import metadata

__all__ = ["metadata"]
