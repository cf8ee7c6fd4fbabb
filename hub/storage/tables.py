"""Every table of the hub on one metadata: the core schema plus the feature modules that declare their own.

Alembic and the schema-vs-migrations test import this module, so a table is never missed (a missed one would
make autogenerate propose dropping it).
"""

from __future__ import annotations

from hub.storage import knowledge, nlu_feedback, open311, outbox  # noqa: F401 - imported for their tables
from hub.storage.schema import metadata

__all__ = ["metadata"]
