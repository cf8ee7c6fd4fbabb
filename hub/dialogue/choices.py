"""Quick replies: the choice values the engine offers and the matching of a reply to the offered choices.

A choice's ``value`` is a short text the engine understands even out of context (a button sends it); the
label is what the citizen sees. The dialogue state keeps the offered values (``choices``) and labels
(``choice_labels``) until the next message, which picks one by its value, its label or its 1-based number
("1", "第1个", "一"): the number of an SMS reply or a key on the phone.
"""

from __future__ import annotations

import re
from typing import Any

from hub.i18n import t

# Canonical values (zh-CN texts the engine understands in any context).
CONFIRM = "确认"
EDIT_ADDRESS = "修改地址"
EDIT_PHONE = "修改电话"
EDIT_DESCRIPTION = "修改问题描述"
CANCEL = "取消"
HUMAN = "转人工"
ANONYMOUS = "匿名登记"
GIVE_PHONE = "留下电话"
REPORT_REPAIR = "我要报修"
REPORT_COMPLAINT = "我要反映"
NO_THANKS = "不用了"
FAQ = "常见问题"
STATUS = "查询工单"
MORE_12319 = "我还有12319的问题"
CONTINUE = "继续登记"
NEW_REQUEST = "办理新问题"

# value -> the key of its label under bot.choice.
LABEL_KEYS = {
    CONFIRM: "confirm",
    EDIT_ADDRESS: "edit_address",
    EDIT_PHONE: "edit_phone",
    EDIT_DESCRIPTION: "edit_description",
    CANCEL: "cancel",
    HUMAN: "human",
    ANONYMOUS: "anonymous",
    GIVE_PHONE: "give_phone",
    REPORT_REPAIR: "report_repair",
    REPORT_COMPLAINT: "report_complaint",
    NO_THANKS: "no_thanks",
    FAQ: "faq",
    STATUS: "status",
    MORE_12319: "more_12319",
    CONTINUE: "continue",
    NEW_REQUEST: "new_request",
}

_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = re.compile(r"^(?:第|选|选择)?\s*([1-9]|[一二两三四五六七八九])\s*(?:个|项|条|号)?$")
_TRIM = " \t\r\n。.！!，,、；;：:“”\"'"


def label(value: str, locale: str) -> str:
    """The label of a canonical choice value in ``locale`` (the value itself if it has no label key)."""
    key = LABEL_KEYS.get(value)
    return t(f"bot.choice.{key}", locale) if key else value


def remember(state: dict[str, Any], offered: list[tuple[str, str]]) -> None:
    """Keep the offered (label, value) pairs in the dialogue state for the next message."""
    if offered:
        state["choices"] = [value for _, value in offered]
        state["choice_labels"] = [text for text, _ in offered]
    else:
        state.pop("choices", None)
        state.pop("choice_labels", None)


def number_of(text: str) -> int | None:
    """The 1-based number a reply like "2", "第2个" or "二" names, else None."""
    match = _NUMBER.match(text.strip(_TRIM))
    if match is None:
        return None
    token = match.group(1)
    return int(token) if token.isdigit() else _NUMERALS[token]


def pick(text: str, values: list[str], labels: list[str]) -> str | None:
    """The value of the offered choice ``text`` picks (by value, label or 1-based number), else None."""
    if not values:
        return None
    reply = text.strip(_TRIM)
    folded = reply.casefold()
    for index, value in enumerate(values):
        if folded == value.strip(_TRIM).casefold():
            return value
        if index < len(labels) and folded == labels[index].strip(_TRIM).casefold():
            return value
    number = number_of(reply)
    if number is not None and number <= len(values):
        return values[number - 1]
    return None
