"""What the centre forwards to a department (转述): the order's own text, never the citizen's whole chat.

A department sees the request's fields and the centre's forwarded text (``work_orders.forward_text``, set at
registration or when (re-)dispatching). When the centre forwarded nothing and the order came from a conversation,
the department sees the citizen's own messages of this request only:

* messages the citizen wrote (no bot, agent or system text), without the picks of the bot's quick replies
  (确认, 修改地址, "1" …: answers to the form, not the citizen's words about the matter);
* written up to the order's registration;
* after the registration of the conversation's previous order (that talk belongs to the other order);
* within :data:`REQUEST_WINDOW` before the registration (an older message of a long-lived SMS or Telegram
  conversation is another matter);
* and from the message that opened the request: the last of those the NLU labelled with the order's request type
  (else with any request type), so a greeting or an earlier question answered by the bot is left out. Without
  NLU labels (a call's transcript, an agent's registration) the two limits above apply alone.

The centre's roles keep seeing the whole conversation on the order page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from hub.models import Message, SenderKind, WorkOrder
from hub.storage.conversations import ConversationStore
from hub.storage.work_orders import WorkOrderStore

REQUEST_WINDOW = timedelta(hours=24)
MAX_MESSAGES = 20  # the request's last citizen messages
MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The text a department is shown, and whether the centre wrote it (else: the citizen's messages)."""

    text: str
    by_centre: bool


def citizen_messages(order: WorkOrder, messages: Sequence[Message], earlier: Sequence[WorkOrder]) -> list[Message]:
    """The citizen's messages that belong to ``order`` (see the module's rule).

    Args:
        order: the order.
        messages: its conversation's messages, in order.
        earlier: the other orders registered from the same conversation.
    """
    start = order.created_at - REQUEST_WINDOW
    for other in earlier:
        if other.id != order.id and other.created_at <= order.created_at and other.created_at > start:
            start = other.created_at
    picks = _quick_reply_picks(messages)
    mine = [
        m
        for m in messages
        if m.direction == "in"
        and m.sender_kind is SenderKind.CITIZEN
        and m.text.strip()
        and m.id not in picks
        and start < m.created_at <= order.created_at
    ]
    anchor = _opening(mine, order.request_type)
    return mine[anchor:][-MAX_MESSAGES:]


def _quick_reply_picks(messages: Sequence[Message]) -> set[int]:
    """Ids of citizen messages that pick one of the quick replies the bot offered just before (value, label, number)."""
    picks: set[int] = set()
    offered: list[dict[str, str]] = []
    for m in messages:
        if m.sender_kind is SenderKind.BOT:
            offered = m.choices
        elif m.direction == "in" and m.sender_kind is SenderKind.CITIZEN:
            said = m.text.strip().strip("。.！!")
            answers = {str(c.get(k) or "") for c in offered for k in ("value", "label")}
            if offered and (said in answers or said in {str(i) for i in range(1, len(offered) + 1)}):
                picks.add(m.id)
            offered = []
    return picks


def _request_type(message: Message) -> str | None:
    label = (message.nlu or {}).get("type")
    name = label.get("name") if isinstance(label, dict) else None
    return name if isinstance(name, str) else None


def _opening(messages: Sequence[Message], request_type: str) -> int:
    """The index of the message that opened the request (0 when none is labelled)."""
    typed = [i for i, m in enumerate(messages) if _request_type(m) is not None]
    same = [i for i in typed if _request_type(messages[i]) == request_type]
    return (same or typed or [0])[-1]


def join_messages(messages: Sequence[Message]) -> str:
    """The messages' texts, one a line, at most :data:`MAX_CHARS` characters (the latest kept)."""
    text = "\n".join(m.text.strip() for m in messages)
    return text if len(text) <= MAX_CHARS else text[-MAX_CHARS:]


async def forwarded(order: WorkOrder, conversations: ConversationStore, orders: WorkOrderStore) -> Forwarded | None:
    """What the department responsible for ``order`` is shown beyond the fields (None: nothing)."""
    if order.forward_text and order.forward_text.strip():
        return Forwarded(order.forward_text.strip(), by_centre=True)
    if order.conversation_id is None:
        return None
    messages = await conversations.messages(order.conversation_id, limit=2000)
    siblings = await orders.list_for_conversation(order.conversation_id)
    text = join_messages(citizen_messages(order, messages, siblings))
    return Forwarded(text, by_centre=False) if text else None
