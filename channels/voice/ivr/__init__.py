"""IVR flows as data: the model and loader, the sans-IO interpreter, versioned storage and the admin page.

- :mod:`.flow` / :mod:`.loader`: YAML → validated frozen :class:`Flow` (``load_flow``; errors with their paths).
- :mod:`.events` / :mod:`.runtime`: :class:`IvrSession` turns call events into actions.
- :mod:`.store`: flow versions in the database and the active flow's holder. :mod:`.web`: ``/admin/ivr``.
"""

from __future__ import annotations

from channels.voice.ivr.flow import Flow, FlowError, FlowIssue, Prompt
from channels.voice.ivr.loader import load_flow
from channels.voice.ivr.runtime import IvrSession
from channels.voice.ivr.store import DEFAULT_FLOW_PATH

__all__ = ["DEFAULT_FLOW_PATH", "Flow", "FlowError", "FlowIssue", "IvrSession", "Prompt", "load_flow"]
