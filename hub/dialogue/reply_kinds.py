"""What a citizen's reply is when it is not the value the bot asked for.

Pure text rules (no NLU): they keep the form working while the NLU is down, and the NLU is unreliable on
short control replies ("忘了" is not a repair, "取消" is not a complaint).
"""

from __future__ import annotations

import re

_TRIM = " \t\r\n。.！!，,、；;~～…"


def _bare(text: str) -> str:
    return text.strip(_TRIM).casefold()


_CONFIRM = re.compile(
    r"^(确认|确定|是|是的|对|对的|没错|没问题|正确|好|好的|可以|行|嗯+|ok|okay|yes|y|confirm|sure)"
    r"(无误|登记|提交|办理|吧|的|了|啊|呀|哦)*$"
    r"|^(信息|内容)?(正确|无误|没问题)(，?(登记|提交)吧?)?$|^确认登记$|^没问题[，,]?(登记|提交)吧?$"
)
_DENY = re.compile(r"^(否|不是|不对|错了|不正确|有误|有错|不行|no|n|wrong)(的|了|啊|呀)*$")
_CANCEL = re.compile(
    r"^(算了|取消|取消登记|不用了|不用登记了|不需要了|不办了|不报了|不登记了|不弄了|不反映了|不投诉了|不修了|"
    r"放弃|cancel|never ?mind)(吧|啊|呀|了)*$"
)
_QUESTION = re.compile(
    r"[？?]|吗|呢|怎么|怎样|什么|啥|多少|哪|几|为什么|为啥|是否|能不能|可不可以|有没有|咋|\b(how|what|when|why)\b"
)
_ADDRESS_UNKNOWN = re.compile(
    r"不知道|不清楚|忘了|忘记了|说不清|讲不清|不确定|不记得|记不清|不晓得|搞不清|随便|不好说|"
    r"^(就|就是)?(在)?(那|这)(儿|里|边)(吧|啊)?$|don'?t know|not sure"
)
_REFUSE = re.compile(
    r"不想(留|给|说|提供|告诉)|不方便|不告诉|不给|不留|不愿意?|保密|匿名|不想透露|不透露|没有电话|没有手机|没手机|"
    r"凭什么要|为什么要(留|给)|no phone|rather not|anonymous"
)
_PHONE_WORDS = re.compile(r"电话|手机|号码|联系方式|号")
_CORRECTIONS = (
    (
        "address",
        re.compile(
            r"(地址|位置|地点|门牌).{0,4}(错|不对|有误|改|不是)|(改|修改|更正|换|更改)(一下|下)?(地址|位置|地点)"
        ),
    ),
    (
        "phone",
        re.compile(r"(电话|手机|号码).{0,4}(错|不对|有误|改|不是)|(改|修改|更正|换|更改)(一下|下|个)?(电话|手机|号码)"),
    ),
    (
        "description",
        re.compile(
            r"(问题|描述|内容|情况).{0,4}(错|不对|有误|写错|说错|改)|(改|修改|更正|补充)(一下|下)?(问题|描述|内容)"
        ),
    ),
)
_INSIST = re.compile(
    r"就要你们|就找你们|你们管|你们必须|必须你们|你们负责|你们不管|为什么不管|凭什么不管|不管.*投诉|就是要|我不找别人|帮我转"
)
_REPORT = re.compile(r"报修|投诉|举报|反映|来修|派人|快来|上门|处理一下|管一管|管管|登记|赶紧|尽快修|快点修")
_FAULT = re.compile(
    r"停水|停气|停暖|停运|没水|没有水|没气|没有气|没暖气|没有暖气|不热|恢复|来水|来气|供暖|坏了|故障|漏水|漏气|堵|不亮|"
    r"断了"
)
_REPORT_CHOICE = re.compile(r"^(我要|我想|帮我)?(报修|反映|投诉|登记|报告)(一下)?(吧)?$|^要$|^需要$")
_NEW_TOPIC_MIN_CHARS = 6


_CLAUSES = re.compile(r"[，,、。.！!；;\s]+")


def is_confirm(text: str) -> bool:
    """Yes / confirm (确认, 是, 对, 没问题, "是的，确认登记" …; a heard "确认登机" too)."""
    clauses = [c for c in _CLAUSES.split(_bare(text)) if c]
    if not clauses or len(clauses) > 3:
        return False
    return all(_CONFIRM.match(c) or (c.startswith(("确认", "确定")) and len(c) <= 4) for c in clauses)


def is_deny(text: str) -> bool:
    """No / not right (否, 不对, 不是 …)."""
    return bool(_DENY.match(_bare(text)))


def is_cancel(text: str) -> bool:
    """The citizen withdraws what is being registered (算了, 取消, 不办了 …)."""
    return bool(_CANCEL.match(_bare(text)))


def is_question(text: str) -> bool:
    """The message is phrased as a question (？, 吗, 呢, 怎么, 什么, 多少, 哪, 几 …)."""
    return bool(_QUESTION.search(text.strip()))


def address_unknown(text: str) -> bool:
    """The citizen does not know or will not say where (不知道, 不清楚, 忘了, 随便, 那边 …)."""
    return bool(_ADDRESS_UNKNOWN.search(_bare(text))) or refuses(text)


def refuses(text: str) -> bool:
    """The citizen refuses to give what was asked (不想留电话, 不方便说, 不告诉你 …)."""
    return bool(_REFUSE.search(text.strip()))


def mentions_phone(text: str) -> bool:
    """The text talks about a phone number."""
    return bool(_PHONE_WORDS.search(text))


def correction(text: str) -> str | None:
    """The slot an earlier answer of which the citizen corrects ("地址说错了" → "address"), else None."""
    stripped = text.strip()
    for slot, pattern in _CORRECTIONS:
        if pattern.search(stripped):
            return slot
    return None


def insists(text: str) -> bool:
    """The citizen insists that the hotline handles it (我就要你们管 …)."""
    return bool(_INSIST.search(text.strip()))


def is_report(text: str) -> bool:
    """The message asks for something to be done (报修, 投诉, 快来修, 派人 …): a report, not only a question."""
    return bool(_REPORT.search(text.strip()))


def is_fault(text: str) -> bool:
    """The message is about a service that stopped or a fault (停水, 没有暖气, 什么时候恢复, 坏了 …)."""
    return bool(_FAULT.search(text.strip()))


def wants_report(text: str) -> bool:
    """A reply accepting the offer to register a report (我要报修, 反映一下, 要 …)."""
    return bool(_REPORT_CHOICE.match(_bare(text))) or is_confirm(text)


def is_substantial(text: str) -> bool:
    """Long enough to be a new request of its own rather than a short control reply."""
    return len(text.strip(_TRIM)) >= _NEW_TOPIC_MIN_CHARS
