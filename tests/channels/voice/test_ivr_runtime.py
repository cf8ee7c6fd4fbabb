"""The IVR interpreter walking the default 12319 flow: DTMF, speech, retries, agent and back, hours, lookups."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.voice.ivr import DEFAULT_FLOW_PATH, IvrSession, load_flow
from channels.voice.ivr.events import (
    AgentAnswered,
    AgentLegEnded,
    Announcements,
    AskKb,
    CallerHungUp,
    Dtmf,
    Enqueue,
    FetchAnnouncements,
    Hangup,
    InputTimeout,
    KbResult,
    Listen,
    LookupOrder,
    OrderStatusResult,
    Play,
    PromptDone,
    QueueOverflow,
    RecordVoicemail,
    Speech,
    VoicemailDone,
)
from channels.voice.ivr.flow import Flow, MenuNode, Routing
from hub.work_orders.calendar import WorkingCalendar

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
SATURDAY_10AM = datetime(2026, 11, 28, 10, 0, tzinfo=TZ)
FLOW = load_flow(DEFAULT_FLOW_PATH.read_text(encoding="utf-8"))


class Clock:
    """A clock that advances one second per reading (deterministic, distinct timestamps)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def session(
    at: datetime = MONDAY_10AM, flow: Flow = FLOW, caller: str | None = "13800001111", **kw: object
) -> IvrSession:
    return IvrSession(flow, caller=caller, now=Clock(at), **kw)  # type: ignore[arg-type]


def at_menu(ivr: IvrSession) -> list[object]:
    """Start the call and get past the welcome prompt."""
    first = ivr.start()
    assert first == [Play("您好，这里是12319城建服务热线。", "welcome.prompt", False)]
    return list(ivr.handle(PromptDone()))


def nodes(ivr: IvrSession) -> list[str]:
    return [step.node for step in ivr.path]


def test_main_menu_offers_dtmf_and_speech() -> None:
    ivr = session()
    actions = at_menu(ivr)
    play, listen = actions
    assert isinstance(play, Play) and play.prompt_id == "main.prompt" and play.barge_in
    assert isinstance(listen, Listen) and listen.digits == 1 and listen.timeout_s == 6.0
    assert listen.grammar is not None
    assert {"政策咨询", "工单进度", "投诉", "留言", "人工", "一", "九"} <= set(listen.grammar)
    assert nodes(ivr) == ["welcome", "hours", "main"] and ivr.waiting_for == "menu"


def test_order_status_by_typed_number() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("2"))
    actions = ivr.handle(Dtmf("1"))
    assert actions[0] == Play("请输入十二位工单编号，以井号键结束。", "order_number.prompt", True)
    assert actions[1] == Listen(actions[1].grammar, 12, 6.0, "#")  # type: ignore[union-attr]
    for digit in "20261125000":
        assert ivr.handle(Dtmf(digit)) == []
    assert ivr.handle(Dtmf("7")) == [LookupOrder("202611250007", by_caller=False)]
    said = ivr.handle(OrderStatusResult(True, "202611250007", "正在办理", "承办单位：自来水公司。"))
    assert said == [Play("您查询的工单202611250007，正在办理。承办单位：自来水公司。", None, True)]
    assert ivr.handle(PromptDone())[0] == Play(
        "按工单编号查询请按1，按本机号码查询请按2，返回上级请按星号键。", "order_menu.prompt", True
    )
    assert nodes(ivr)[-4:] == ["order_menu", "order_number", "order_by_number", "order_menu"]
    assert ivr.path[-2].via == "digits:12" and ivr.vars["order_number"] == "202611250007"


def test_too_few_digits_then_terminator_asks_again_then_gives_up_to_the_menu() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("2"))
    ivr.handle(Dtmf("1"))
    ivr.handle(Dtmf("1"))
    retry = ivr.handle(Dtmf("#"))
    assert retry[0] == Play("工单编号应为十二位数字。", "order_number.invalid_prompt", False)
    assert ivr.handle(InputTimeout())[0].prompt_id == "order_number.invalid_prompt"  # type: ignore[union-attr]
    back = ivr.handle(InputTimeout())  # third failure: on_fail → order_menu
    assert back[1].prompt_id == "order_menu.prompt" and ivr.node == "order_menu"  # type: ignore[union-attr]


def test_order_status_by_caller_id_and_spoken_choices() -> None:
    ivr = session()
    at_menu(ivr)
    assert ivr.handle(Speech("我想 查一下 工单进度", 0.9))[0].prompt_id == "order_menu.prompt"  # type: ignore[union-attr]
    assert ivr.handle(Speech("二", 0.8)) == [LookupOrder("13800001111", by_caller=True)]
    said = ivr.handle(OrderStatusResult(False))
    assert said == [Play("没有查到本机号码登记的工单。", "order_by_caller.not_found", False)]
    assert ivr.path[-2].via == "speech"


def test_order_lookup_by_caller_without_caller_id_says_not_found() -> None:
    ivr = session(caller=None)
    at_menu(ivr)
    ivr.handle(Dtmf("2"))
    assert ivr.handle(Dtmf("2")) == [Play("没有查到本机号码登记的工单。", "order_by_caller.not_found", False)]


def test_spoken_digits_fill_the_order_number() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("2"))
    ivr.handle(Speech("按一"))
    assert ivr.handle(Speech("二零二六 幺幺二五 零零零七")) == [LookupOrder("202611250007", by_caller=False)]


MENUS = [n.id for n in FLOW.nodes.values() if isinstance(n, MenuNode)]


@pytest.mark.parametrize("menu", MENUS)
def test_zero_reaches_an_agent_from_every_menu(menu: str) -> None:
    ivr = session(flow=dataclasses.replace(FLOW, start=menu))
    ivr.start()
    actions = ivr.handle(Dtmf("0"))
    if menu == "main_closed":  # out of hours the agent target of that menu is voicemail
        assert ivr.node == "voicemail" and actions[-1].prompt_id == "voicemail.prompt"  # type: ignore[union-attr]
    else:
        assert actions[-1] == Enqueue("general", 0, None, None)
        assert actions[0] == Play("正在为您转接人工服务，请稍候。", "to_agent.prompt", False)
        assert ivr.return_menu == menu and nodes(ivr)[-2:] == ["agent_gate", "to_agent"]


def test_zero_out_of_hours_leads_to_voicemail() -> None:
    ivr = session(flow=dataclasses.replace(FLOW, start="order_menu"), at=SATURDAY_10AM)
    ivr.start()
    ivr.handle(Dtmf("0"))
    assert nodes(ivr)[-2:] == ["agent_gate", "voicemail"]


def test_no_input_and_invalid_keys_are_retried_then_go_to_the_agent() -> None:
    ivr = session()
    at_menu(ivr)
    first = ivr.handle(InputTimeout())
    assert [a.prompt_id for a in first[:2]] == ["defaults.no_input_prompt", "main.prompt"]  # type: ignore[union-attr]
    assert isinstance(first[2], Listen)
    second = ivr.handle(Dtmf("7"))
    assert [a.prompt_id for a in second[:2]] == ["defaults.invalid_prompt", "main.prompt"]  # type: ignore[union-attr]
    third = ivr.handle(Speech("嗯嗯", 0.9))
    assert third[0].prompt_id == "defaults.invalid_prompt" and third[-1] == Enqueue("general")  # type: ignore[union-attr]
    assert ivr.path[-2].via == "fail"


def test_low_confidence_or_ambiguous_speech_is_not_a_choice() -> None:
    ivr = session()
    at_menu(ivr)
    assert ivr.handle(Speech("政策咨询", 0.2))[0].prompt_id == "defaults.invalid_prompt"  # type: ignore[union-attr]
    assert ivr.node == "main"


def test_after_the_agent_leg_the_caller_returns_to_the_menu_they_left() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("2"))
    ivr.handle(Dtmf("0"))
    assert ivr.return_menu == "order_menu"
    assert ivr.handle(AgentAnswered(7)) == [] and ivr.agent_id == 7
    back = ivr.handle(AgentLegEnded())
    assert back[0] == Play("人工服务已结束。返回菜单请按星号键，结束通话请直接挂机。", "defaults.return_prompt", True)
    assert isinstance(back[1], Listen) and "返回" in (back[1].grammar or ())
    again = ivr.handle(Dtmf("*"))
    assert again[0].prompt_id == "order_menu.prompt" and ivr.path[-1].via == "return"  # type: ignore[union-attr]
    assert [s.via for s in ivr.path if s.node == "to_agent"] == [None, "answered"]


def test_after_the_agent_leg_a_menu_key_chooses_directly_and_silence_hangs_up() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("0"))
    ivr.handle(AgentAnswered(3))
    ivr.handle(AgentLegEnded())
    assert ivr.handle(Dtmf("4")) == [FetchAnnouncements()]
    other = session()
    at_menu(other)
    other.handle(Dtmf("0"))
    other.handle(AgentLegEnded())
    assert other.handle(InputTimeout()) == [Play("感谢您的来电，再见。", "defaults.goodbye", False)]
    assert other.handle(PromptDone()) == [Hangup("agent_bye")] and other.done


def test_star_and_spoken_back_commands() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("2"))
    assert ivr.handle(Dtmf("*"))[0].prompt_id == "main.prompt" and ivr.path[-1].via == "back"  # type: ignore[union-attr]
    ivr.handle(Dtmf("2"))
    assert ivr.handle(Speech("返回主菜单"))[0].prompt_id == "main.prompt"  # type: ignore[union-attr]
    assert ivr.handle(Speech("转人工"))[-1] == Enqueue("general")


@pytest.mark.parametrize(
    ("at", "calendar", "menu"),
    [
        (MONDAY_10AM, None, "main"),
        (MONDAY_10AM.replace(hour=12, minute=30), None, "main_closed"),  # lunch break
        (MONDAY_10AM.replace(hour=17, minute=29), None, "main"),
        (MONDAY_10AM.replace(hour=17, minute=30), None, "main_closed"),
        (SATURDAY_10AM, None, "main_closed"),
        (MONDAY_10AM, WorkingCalendar.of(holidays=[date(2026, 11, 23)]), "main_closed"),  # holiday
        (SATURDAY_10AM, WorkingCalendar.of(workdays=[date(2026, 11, 28)]), "main"),  # 调休 working Saturday
        (datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo("UTC")), None, "main"),  # 10:00 in Shanghai
    ],
)
def test_business_hours_with_an_injected_clock(at: datetime, calendar: WorkingCalendar | None, menu: str) -> None:
    ivr = IvrSession(FLOW, caller=None, now=lambda: at, calendar=calendar)
    ivr.start()
    ivr.handle(PromptDone())
    assert ivr.node == menu


def test_voicemail_records_after_the_prompt_and_keeps_the_path() -> None:
    ivr = session()
    at_menu(ivr)
    assert ivr.handle(Dtmf("9"))[0].prompt_id == "voicemail.prompt"  # type: ignore[union-attr]
    assert ivr.handle(Dtmf("1")) == []  # keys do not cut the voicemail prompt
    assert ivr.handle(PromptDone()) == [RecordVoicemail(120, beep=True)]
    bye = ivr.handle(VoicemailDone("/data/voicemail/abc.wav"))
    assert bye == [Play("您的留言已收到，感谢您的来电，再见。", "goodbye.prompt", False)]
    assert ivr.handle(PromptDone()) == [Hangup("ivr_end")]
    assert ivr.voicemail_path == "/data/voicemail/abc.wav" and ivr.hangup_cause == "ivr_end"
    assert nodes(ivr) == ["welcome", "hours", "main", "voicemail", "goodbye"]
    assert [s["via"] for s in ivr.path_json()][-2:] == ["dtmf:9", "recorded"]
    assert ivr.handle(Dtmf("1")) == []  # nothing after the end


def test_kb_answer_read_out_then_the_follow_up_menu() -> None:
    ivr = session()
    at_menu(ivr)
    asked = ivr.handle(Dtmf("1"))
    assert asked[1] == Listen(None, None, 8.0)
    assert ivr.handle(Speech("燃气开户需要什么材料", 0.7)) == [AskKb("燃气开户需要什么材料")]
    assert ivr.handle(KbResult("携带身份证和房产证到营业厅办理。")) == [
        Play("携带身份证和房产证到营业厅办理。", None, True)
    ]
    assert ivr.handle(PromptDone())[0].prompt_id == "kb_more.prompt"  # type: ignore[union-attr]


def test_kb_without_an_answer_goes_to_an_agent() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("1"))
    ivr.handle(Speech("人工费用怎么算"))  # a question that merely contains 人工
    assert ivr.handle(KbResult(None)) == [Play("抱歉，暂时没有找到相关的答案。", "ask_kb.no_answer_prompt", False)]
    assert ivr.handle(PromptDone())[-1] == Enqueue("general")


def test_announcements_are_read_or_the_empty_prompt() -> None:
    ivr = session()
    at_menu(ivr)
    assert ivr.handle(Speech("最新公告")) == [FetchAnnouncements()]
    assert ivr.handle(Announcements(("【公告】明日停水", " "))) == [Play("【公告】明日停水", None, True)]
    assert ivr.handle(PromptDone())[0].prompt_id == "notices_more.prompt"  # type: ignore[union-attr]
    ivr.handle(Dtmf("1"))
    assert ivr.handle(Announcements(())) == [Play("目前没有新的公告。", "notices.empty_prompt", False)]


def test_blacklisted_callers_are_politely_rejected() -> None:
    flow = dataclasses.replace(FLOW, routing=dataclasses.replace(FLOW.routing, blacklist=("170*",)))
    ivr = session(flow=flow, caller="17012345678")
    assert ivr.start()[0].prompt_id == "routing.reject_prompt"  # type: ignore[union-attr]
    assert ivr.handle(Dtmf("0")) == []
    assert ivr.handle(PromptDone()) == [Hangup("rejected")] and ivr.routing == "blacklist"
    assert session(blacklisted=True).start()[0].prompt_id == "routing.reject_prompt"  # type: ignore[union-attr]


def test_vip_callers_queue_with_priority() -> None:
    flow = dataclasses.replace(FLOW, routing=Routing(vip=("13800001111",), vip_priority=10))
    ivr = session(flow=flow)
    at_menu(ivr)
    assert ivr.handle(Dtmf("0"))[-1] == Enqueue("general", 10)
    assert ivr.routing == "vip"


def test_hanging_up_in_the_queue_is_abandoned_but_not_after_the_answer() -> None:
    waiting = session()
    at_menu(waiting)
    waiting.handle(Dtmf("0"))
    assert waiting.handle(CallerHungUp()) == [] and waiting.hangup_cause == "abandoned" and waiting.done
    talking = session()
    at_menu(talking)
    talking.handle(Dtmf("0"))
    talking.handle(AgentAnswered(1))
    talking.handle(CallerHungUp())
    assert talking.hangup_cause == "caller_bye"


def test_queue_overflow_goes_to_voicemail() -> None:
    ivr = session()
    at_menu(ivr)
    ivr.handle(Dtmf("0"))
    assert ivr.handle(QueueOverflow())[0].prompt_id == "voicemail_busy.prompt"  # type: ignore[union-attr]
    assert ivr.path[-1].via == "overflow"


def test_english_prompts_and_bad_events() -> None:
    ivr = session(locale="en")
    assert ivr.start()[0] == Play("Hello, this is the 12319 city services hotline.", "welcome.prompt", False)
    with pytest.raises(TypeError, match="not an IVR event"):
        ivr.handle("1")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        ivr.start()
