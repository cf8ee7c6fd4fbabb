"""Where a work order came from (its ``source``): the channel of its conversation, or how the request reached the
centre when there is no conversation (a letter, a walk-in, a leader's assignment ...). Reports count by these codes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    """A source code with its names."""

    code: str
    name_zh: str
    name_en: str
    manual: bool  # registered by hand at the desk without a conversation

    def name(self, locale: str) -> str:
        """The display name in ``locale``."""
        return self.name_en if locale.startswith("en") else self.name_zh


SOURCES: dict[str, Source] = {
    s.code: s
    for s in (
        Source("phone", "来电", "Phone call", True),  # a call taken without a recording in the hub
        Source("walk_in", "来人", "Walk-in", True),
        Source("letter", "来信", "Letter", True),
        Source("media", "媒体", "Media", True),
        Source("leader", "领导交办", "Assigned by a leader", True),
        Source("website", "网站", "Website", True),
        Source("voice", "热线电话", "Hotline call", False),
        Source("sms", "短信", "SMS", False),
        Source("email", "电子邮件", "E-mail", False),
        Source("web_chat", "网上咨询", "Web chat", False),
        Source("telegram", "Telegram", "Telegram", False),
        Source("rest", "接口", "REST channel", False),
        Source("open311", "Open311", "Open311", False),
    )
}

MANUAL_SOURCES: tuple[str, ...] = tuple(code for code, s in SOURCES.items() if s.manual)


def source_for_channel(channel: str) -> str:
    """The source of an order registered from a conversation on ``channel`` (unknown channels keep their name)."""
    return channel[:32]
