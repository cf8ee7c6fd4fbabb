"""Speech first (GB/T 33358): the ``speech_intake`` node, driven sans-IO through the default flow started at it.

The caller says what they need, the hub's bot answers (:class:`Converse` → :class:`ConverseResult`), keys still
work, failed speech and a full recogniser pool (:class:`SpeechBusy`) lead to keys, and a busy pool in the other
listening nodes asks for keys instead of leaving the caller waiting.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.voice.ivr import DEFAULT_FLOW_PATH, FlowError, IvrSession, load_flow
from channels.voice.ivr.events import (
    AgentLegEnded,
    CallerHungUp,
    Converse,
    ConverseResult,
    Dtmf,
    Enqueue,
    Hangup,
    InputTimeout,
    KbResult,
    Listen,
    LookupOrder,
    Play,
    PromptDone,
    Speech,
    SpeechBusy,
)
from channels.voice.ivr.flow import Flow, Prompt, SpeechIntakeNode

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
DEFAULT_TEXT = DEFAULT_FLOW_PATH.read_text(encoding="utf-8")
MENU_FLOW = load_flow(DEFAULT_TEXT)
FLOW = load_flow(DEFAULT_TEXT.replace("start: welcome", "start: intake", 1))  # the documented speech-first option

GREETING = Play(
    "您好，这里是12319城建服务热线。请直接说出您要办理的业务，例如咨询政策、查询工单进度或投诉报修；"
    "人工服务请按0，按键选择请按星号键。",
    "intake.prompt",
    True,
)
AGAIN = Play("请问还有其他需要吗？请直接说出，或挂机结束通话。", "intake.again_prompt", True)
NO_INPUT = Play("对不起，没有听到您的声音，请直接说出您要办理的业务。", "intake.no_input_prompt", False)
INVALID = Play("对不起，没有听清楚，请再说一遍。", "intake.invalid_prompt", False)
FREE = Listen(None, None, 8.0)
BUSY = Play("语音识别繁忙，请使用按键选择。", "defaults.busy_prompt", True)
TO_AGENT = Play("正在为您转接人工服务，请稍候。", "to_agent.prompt", False)
BYE = Play("感谢您的来电，再见。", "intake_bye.prompt", False)


class Clock:
    """A clock that advances one second per reading (deterministic, distinct timestamps)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def session(flow: Flow = FLOW, locale: str = "zh-CN") -> IvrSession:
    return IvrSession(flow, caller="13800001111", now=Clock(MONDAY_10AM), locale=locale)


def started(flow: Flow = FLOW) -> IvrSession:
    ivr = session(flow)
    assert ivr.start() == [GREETING, FREE]
    assert ivr.waiting_for == "intake" and ivr.node == "intake"
    return ivr


def with_max_turns(turns: int) -> Flow:
    node = FLOW.node("intake")
    assert isinstance(node, SpeechIntakeNode)
    return dataclasses.replace(FLOW, nodes={**FLOW.nodes, "intake": dataclasses.replace(node, max_turns=turns)})


def steps(ivr: IvrSession) -> list[tuple[str, str | None]]:
    return [(step.node, step.via) for step in ivr.path]


def main_menu_prompt(actions: Sequence[object]) -> bool:
    return any(isinstance(a, Play) and a.prompt_id == "main.prompt" for a in actions) and isinstance(
        actions[-1], Listen
    )


# -- the flow document -------------------------------------------------------------------------------------


def test_the_default_flow_has_a_valid_intake_node_and_starts_at_the_menu() -> None:
    assert MENU_FLOW.start == "welcome" and MENU_FLOW.warnings == ()
    node = MENU_FLOW.node("intake")
    assert isinstance(node, SpeechIntakeNode)
    assert (node.keys, node.agent, node.next, node.max_turns, node.retries, node.timeout_s) == (
        "main", "agent_gate", "intake_bye", 8, 2, 8.0,
    )  # fmt: skip
    assert node.prompt.en and node.again_prompt.en and node.no_input_prompt.en and node.invalid_prompt.en
    assert MENU_FLOW.defaults.busy_prompt == Prompt(
        "语音识别繁忙，请使用按键选择。", "Speech recognition is busy. Please use your keypad.", "defaults.busy_prompt"
    )
    # speech first is one line: the menu nodes before it are then merely unreachable (warnings)
    assert FLOW.start == "intake"
    assert {w.path for w in FLOW.warnings} == {"nodes.welcome", "nodes.hours", "nodes.main_closed"}


def test_after_a_policy_answer_saying_other_business_reaches_the_intake() -> None:
    ivr = session(MENU_FLOW)
    ivr.start()
    ivr.handle(PromptDone())
    ivr.handle(Dtmf("1"))
    ivr.handle(Speech("燃气开户需要什么材料", 0.8))
    ivr.handle(KbResult("带身份证。"))
    ivr.handle(PromptDone())
    assert ivr.handle(Speech("我还要办理其他业务", 0.8)) == [GREETING, FREE]
    assert steps(ivr)[-1] == ("intake", "speech")


MINIMAL = """
start: talk
defaults: {agent: agent}
nodes:
  talk: {type: speech_intake, prompt: 请说出您的需求, keys: main, next: bye}
  main:
    type: menu
    prompt: 请按1
    options:
      - {key: 1, next: talk}
  agent: {type: agent, queue: general}
  bye: {type: hangup, prompt: 再见}
"""


def test_a_minimal_intake_inherits_defaults_and_may_loop_through_menus() -> None:
    flow = load_flow(MINIMAL)
    talk = flow.node("talk")
    assert isinstance(talk, SpeechIntakeNode) and flow.warnings == ()
    assert talk.again_prompt.zh == "请问还有其他需要吗？请直接说出，或挂机结束通话。"
    assert (
        talk.no_input_prompt.zh == "对不起，没有听到您的选择。" and talk.invalid_prompt.zh == "对不起，您的输入有误。"
    )
    assert (talk.agent, talk.max_turns, talk.timeout_s) == ("agent", 8, 8.0)
    assert talk.targets() == ("main", "bye", "agent")
    # intake → bye and main → talk: an intake waits for the caller, so a cycle through it is fine
    looped = load_flow(
        MINIMAL.replace("next: bye}", "next: again}") + "  again: {type: play, prompt: 好, next: talk}\n"
    )
    assert looped.node("again").targets() == ("talk",)


def test_the_busy_prompt_is_configurable() -> None:
    flow = load_flow(MINIMAL.replace("defaults: {agent: agent}", "defaults: {agent: agent, busy_prompt: 请按键}"))
    assert flow.defaults.busy_prompt == Prompt("请按键", None, "defaults.busy_prompt")


INTAKE_FIELDS = {
    "again_prompt", "agent", "description", "invalid_prompt", "keys", "max_turns", "next", "no_input_prompt",
    "prompt", "retries", "timeout_s", "type",
}  # fmt: skip


def coded(text: str) -> list[tuple[str, str, dict[str, object]]]:
    with pytest.raises(FlowError) as info:
        load_flow(textwrap.dedent(text))
    return [(i.path, i.code, dict(i.params)) for i in info.value.issues]


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        (
            MINIMAL.replace("keys: main", "keys: bye"),
            ("nodes.talk.keys", "keys_not_menu", {"target": "bye", "node_type": "hangup"}),
        ),
        (MINIMAL.replace("keys: main, ", ""), ("nodes.talk.keys", "required", {})),
        (MINIMAL.replace("keys: main", "keys: nowhere"), ("nodes.talk.keys", "unknown_target", {"target": "nowhere"})),
        (MINIMAL.replace(", next: bye}", "}"), ("nodes.talk.next", "required", {})),
        (MINIMAL.replace("prompt: 请说出您的需求, ", ""), ("nodes.talk.prompt", "required", {})),
        (
            MINIMAL.replace("keys: main", "keys: main, max_turns: 0"),
            ("nodes.talk.max_turns", "out_of_range", {"low": 1, "high": 50}),
        ),
        (
            MINIMAL.replace("keys: main", "keys: main, again_prompt: ' '"),
            ("nodes.talk.again_prompt", "empty_prompt", {}),
        ),
        (
            MINIMAL.replace("keys: main", "keys: main, grammar: x"),
            ("nodes.talk.grammar", "unknown_field", {"allowed": ", ".join(sorted(INTAKE_FIELDS))}),
        ),
        (
            MINIMAL.replace("defaults: {agent: agent}", "defaults: {agent: agent, busy_prompt: [x]}"),
            ("defaults.busy_prompt", "expected_prompt", {"kind": "list"}),
        ),
    ],
)
def test_intake_mistakes_are_reported_at_their_path(text: str, issue: tuple[str, str, dict[str, object]]) -> None:
    assert issue in coded(text)


def test_keys_that_are_not_a_menu_read_in_both_languages() -> None:
    with pytest.raises(FlowError) as info:
        load_flow(MINIMAL.replace("keys: main", "keys: bye"))
    [issue] = info.value.issues
    assert issue.text("en") == "must name a menu node; 'bye' is a hangup node"
    assert issue.text("zh-CN") == "必须指向菜单节点（menu），“bye”是 hangup 节点"


def test_an_intake_without_agent_warns_and_hands_off_to_the_keys_menu() -> None:
    text = MINIMAL.replace("defaults: {agent: agent}", "defaults: {}")
    flow = load_flow(text.replace("  agent: {type: agent, queue: general}\n", ""))
    assert [(w.path, w.code) for w in flow.warnings] == [
        ("nodes.talk.agent", "no_agent_target"),
        ("nodes.main.agent", "no_agent_target"),
    ]
    ivr = session(flow)
    ivr.start()
    ivr.handle(Speech("我要投诉", 0.9))
    handed = ivr.handle(ConverseResult(("好的",), "handoff"))
    assert handed[:2] == [Play("好的", None, True), Play("请按1", "main.prompt", True)]
    assert isinstance(handed[2], Listen) and steps(ivr)[-1] == ("main", "handoff")
    ivr = session(flow)
    ivr.start()
    assert ivr.handle(Speech("转人工", 0.9)) == [Converse("转人工", 0.9)]  # no agent here: the bot decides
    ivr = session(flow)
    ivr.start()
    invalid = Play("对不起，您的输入有误。", "defaults.invalid_prompt", False)
    assert ivr.handle(Dtmf("0"))[:2] == [invalid, Play("请按1", "main.prompt", True)]  # "0" is not a key there


# -- talking with the bot ----------------------------------------------------------------------------------


def test_speech_goes_to_the_bot_and_an_answer_is_followed_by_anything_else() -> None:
    ivr = started()
    assert ivr.handle(Speech(" 燃气开户需要带什么材料 ", 0.82)) == [Converse("燃气开户需要带什么材料", 0.82)]
    assert ivr.waiting_for == "converse"
    assert ivr.handle(PromptDone()) == [] and ivr.handle(Dtmf("1")) == [] and ivr.handle(Speech("喂")) == []
    assert ivr.handle(SpeechBusy()) == [] and ivr.handle(InputTimeout()) == []  # the hub is answering
    answer = ConverseResult(("开户请带身份证和房产证。", " ", "明日城东区停气。"), "answered")
    assert ivr.handle(answer) == [
        Play("开户请带身份证和房产证。", None, True),
        Play("明日城东区停气。", None, True),
        AGAIN,
        FREE,
    ]
    assert ivr.waiting_for == "intake" and ivr.handle(PromptDone()) == []
    assert ivr.handle(Speech("我的工单办得怎么样了", 0.9)) == [Converse("我的工单办得怎么样了", 0.9)]
    assert ivr.handle(ConverseResult(("您最近的工单已派单。",), "answered"))[1:] == [AGAIN, FREE]
    assert steps(ivr) == [("intake", None)]


def test_a_registration_asks_follow_ups_then_reads_back_and_asks_for_more() -> None:
    ivr = started()
    assert ivr.handle(Speech("我家楼下路灯坏了", 0.9)) == [Converse("我家楼下路灯坏了", 0.9)]
    asking = ConverseResult(("收到，您反映的是市政设施方面的投诉。", "请告诉我问题发生的具体地址。"), "asking")
    assert ivr.handle(asking) == [
        Play("收到，您反映的是市政设施方面的投诉。", None, True),
        Play("请告诉我问题发生的具体地址。", None, True),
        FREE,  # a follow-up question: no "anything else?"
    ]
    assert ivr.handle(Speech("城东区幸福路12号", 0.9)) == [Converse("城东区幸福路12号", 0.9)]
    readback = "已为您登记工单，工单号：202611230001。登记的问题：我家楼下路灯坏了。地址：城东区幸福路12号。"
    done = ivr.handle(ConverseResult((readback,), "registered", "202611230001"))
    assert done == [Play(readback, None, True), AGAIN, FREE]


def test_saying_done_after_an_answer_says_goodbye() -> None:
    ivr = started()
    assert ivr.handle(Speech("没有了", 0.9)) == [Converse("没有了", 0.9)]  # before any answer it is for the bot
    ivr.handle(ConverseResult(("请问您要办理什么业务？",), "asking"))
    ivr.handle(Speech("燃气怎么开户", 0.9))
    ivr.handle(ConverseResult(("带身份证。",), "answered"))
    assert ivr.handle(Speech("没有了，谢谢", 0.9)) == [BYE]
    assert ivr.handle(PromptDone()) == [Hangup("ivr_end")]
    assert steps(ivr)[-1] == ("intake_bye", "done") and ivr.hangup_cause == "ivr_end"


def test_more_than_max_turns_answers_continue_at_next() -> None:
    ivr = started(with_max_turns(2))
    ivr.handle(Speech("问题一", 0.9))
    assert ivr.handle(ConverseResult(("答一",), "answered"))[-2:] == [AGAIN, FREE]
    ivr.handle(Speech("问题二", 0.9))
    ivr.handle(ConverseResult(("请说地址",), "asking"))  # follow-ups are not answers
    ivr.handle(Speech("幸福路", 0.9))
    assert ivr.handle(ConverseResult(("答二",), "registered", "202611230002")) == [Play("答二", None, True), BYE]
    assert ivr.handle(PromptDone()) == [Hangup("ivr_end")]
    assert steps(ivr)[-1] == ("intake_bye", "max_turns")


@pytest.mark.parametrize("outcome", ["handoff", "unavailable"])
def test_a_hand_off_or_a_failing_hub_goes_to_the_agent(outcome: str) -> None:
    ivr = started()
    ivr.handle(Speech("我要投诉物业", 0.9))
    replies = ("好的。",) if outcome == "handoff" else ()
    actions = ivr.handle(ConverseResult(replies, outcome))
    assert actions == [*(Play(r, None, True) for r in replies), TO_AGENT, Enqueue("general")]
    assert steps(ivr)[-2:] == [("agent_gate", outcome), ("to_agent", None)] and ivr.waiting_for == "queue"
    assert ivr.return_menu is None  # the call started at the intake: no menu to return to
    assert ivr.handle(AgentLegEnded()) == [Hangup("agent_bye")]


@pytest.mark.parametrize("said", ["转人工", "人工", "我要人工服务"])
def test_asking_for_a_person_goes_straight_to_the_agent(said: str) -> None:
    ivr = started()
    assert ivr.handle(Speech(said, 0.9)) == [TO_AGENT, Enqueue("general")]
    assert steps(ivr)[1] == ("agent_gate", "speech")


def test_a_long_question_that_mentions_people_goes_to_the_bot() -> None:
    ivr = started()
    assert ivr.handle(Speech("维修人工费用怎么算", 0.9)) == [Converse("维修人工费用怎么算", 0.9)]


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown converse outcome"):
        ConverseResult((), "maybe")


# -- keys still accepted -----------------------------------------------------------------------------------


def test_zero_reaches_the_agent() -> None:
    ivr = started()
    assert ivr.handle(Dtmf("0")) == [TO_AGENT, Enqueue("general")]
    assert steps(ivr)[1] == ("agent_gate", "dtmf:0")


def test_a_menu_key_is_the_keys_menus_choice_without_its_prompt() -> None:
    ivr = started()
    actions = ivr.handle(Dtmf("2"))  # 查询工单进度 in the main menu
    assert actions[0] == Play(
        "按工单编号查询请按1，按本机号码查询请按2，返回上级请按星号键。", "order_menu.prompt", True
    )
    assert steps(ivr) == [("intake", None), ("order_menu", "dtmf:2")]
    assert ivr.handle(Dtmf("2")) == [LookupOrder("13800001111", by_caller=True)]
    ivr = started()
    ivr.handle(Dtmf("2"))
    back = ivr.handle(Dtmf("*"))  # as if pressed in the main menu: "*" leads back to it
    assert main_menu_prompt(back) and steps(ivr)[-1] == ("main", "back")


def test_star_is_the_keys_menu_and_an_unknown_key_its_invalid_prompt() -> None:
    ivr = started()
    assert main_menu_prompt(ivr.handle(Dtmf("*"))) and steps(ivr)[-1] == ("main", "dtmf:*")
    ivr = started()
    wrong = ivr.handle(Dtmf("7"))
    assert wrong[0] == Play("对不起，您的输入有误。", "defaults.invalid_prompt", False) and main_menu_prompt(wrong)
    assert steps(ivr)[-1] == ("main", "dtmf:7") and ivr.waiting_for == "menu"
    ivr = started()
    assert ivr.handle(Dtmf("9"))[0].prompt_id == "voicemail.prompt"  # type: ignore[union-attr]


def test_keys_work_after_an_answer_too() -> None:
    ivr = started()
    ivr.handle(Speech("燃气怎么开户", 0.9))
    ivr.handle(ConverseResult(("带身份证。",), "answered"))
    assert ivr.handle(Dtmf("0"))[-1] == Enqueue("general")


def test_the_agent_leg_returns_to_the_keys_menu_when_the_caller_used_it() -> None:
    ivr = started()
    ivr.handle(Dtmf("3"))  # 投诉报修 → complaints → agent_gate → to_agent
    assert ivr.return_menu == "main"


# -- speech that fails -------------------------------------------------------------------------------------


def test_silence_is_retried_then_the_keys_menu() -> None:
    ivr = started()
    assert ivr.handle(InputTimeout()) == [NO_INPUT, FREE]
    assert ivr.handle(InputTimeout()) == [NO_INPUT, FREE]
    fail = ivr.handle(InputTimeout())
    assert fail[0] == NO_INPUT and main_menu_prompt(fail)
    assert steps(ivr)[-1] == ("main", "fail") and ivr.waiting_for == "menu"


def test_unclear_speech_is_retried_then_the_keys_menu() -> None:
    ivr = started()
    assert ivr.handle(Speech("嗯", 0.2)) == [INVALID, FREE]
    assert ivr.handle(Speech("，。", 0.9)) == [INVALID, FREE]
    fail = ivr.handle(Speech("呃", 0.1))
    assert fail[0] == INVALID and main_menu_prompt(fail) and steps(ivr)[-1] == ("main", "fail")


def test_an_answer_resets_the_retries() -> None:
    ivr = started()
    ivr.handle(InputTimeout())
    ivr.handle(InputTimeout())
    ivr.handle(Speech("燃气怎么开户", 0.9))
    ivr.handle(ConverseResult(("带身份证。",), "asking"))
    assert ivr.handle(Speech("嗯", 0.2)) == [INVALID, FREE]


def test_silence_after_an_answer_ends_the_call_politely() -> None:
    ivr = started()
    ivr.handle(Speech("燃气怎么开户", 0.9))
    ivr.handle(ConverseResult(("带身份证。",), "answered"))
    assert ivr.handle(InputTimeout()) == [NO_INPUT, FREE]
    assert ivr.handle(InputTimeout()) == [NO_INPUT, FREE]
    assert ivr.handle(InputTimeout()) == [BYE]  # served, then silent: done
    assert steps(ivr)[-1] == ("intake_bye", "timeout")


def test_the_caller_may_hang_up_while_the_bot_answers() -> None:
    ivr = started()
    ivr.handle(Speech("燃气怎么开户", 0.9))
    assert ivr.handle(CallerHungUp()) == [] and ivr.done and ivr.hangup_cause == "caller_bye"
    assert ivr.handle(ConverseResult(("带身份证。",), "answered")) == []


# -- a full recognition pool: keys, never waiting ----------------------------------------------------------


def test_busy_at_the_intake_leads_to_the_keys_menu() -> None:
    ivr = started()
    busy = ivr.handle(SpeechBusy())
    assert busy[0] == BUSY and main_menu_prompt(busy)
    assert steps(ivr)[-1] == ("main", "busy")


def test_busy_in_a_menu_keeps_waiting_for_keys_without_counting_a_retry() -> None:
    ivr = session(MENU_FLOW)
    ivr.start()
    menu = ivr.handle(PromptDone())
    listen = menu[-1]
    assert isinstance(listen, Listen)
    for _ in range(4):
        assert ivr.handle(SpeechBusy()) == [BUSY, listen]
    no_input = Play("对不起，没有听到您的选择。", "defaults.no_input_prompt", False)
    for _ in range(2):  # both retries are left
        retry = ivr.handle(InputTimeout())
        assert retry[0] == no_input and main_menu_prompt(retry) and ivr.waiting_for == "menu"
    assert ivr.handle(Dtmf("2"))[0].prompt_id == "order_menu.prompt"  # type: ignore[union-attr]
    assert ("main", "busy") in steps(ivr)


def test_busy_while_collecting_digits_keeps_the_keys_typed() -> None:
    ivr = session(MENU_FLOW)
    ivr.start()
    ivr.handle(PromptDone())
    ivr.handle(Dtmf("2"))
    prompt = ivr.handle(Dtmf("1"))
    for digit in "2026":
        ivr.handle(Dtmf(digit))
    assert ivr.handle(SpeechBusy()) == [BUSY, prompt[1]]
    assert steps(ivr)[-1] == ("order_number", "busy")
    for digit in "1123000":
        assert ivr.handle(Dtmf(digit)) == []
    assert ivr.handle(Dtmf("7")) == [LookupOrder("202611230007", by_caller=False)]


def test_busy_during_a_spoken_question_goes_back_to_the_last_menu() -> None:
    ivr = session(MENU_FLOW)
    ivr.start()
    ivr.handle(PromptDone())
    ivr.handle(Dtmf("1"))
    assert ivr.waiting_for == "kb_question"
    busy = ivr.handle(SpeechBusy())
    assert busy[0] == BUSY and main_menu_prompt(busy) and steps(ivr)[-1] == ("main", "busy")


def test_busy_during_a_spoken_question_without_a_menu_goes_to_the_agent() -> None:
    ivr = session(dataclasses.replace(MENU_FLOW, start="ask_kb"))
    ivr.start()
    assert ivr.handle(SpeechBusy()) == [BUSY, TO_AGENT, Enqueue("general")]
    assert steps(ivr)[-2] == ("agent_gate", "busy")


def test_busy_after_the_agent_leg_keeps_waiting_for_keys() -> None:
    ivr = session(MENU_FLOW)
    ivr.start()
    ivr.handle(PromptDone())
    ivr.handle(Dtmf("0"))
    returned = ivr.handle(AgentLegEnded())
    assert ivr.handle(SpeechBusy()) == [BUSY, returned[1]]
    assert main_menu_prompt(ivr.handle(Dtmf("*")))


def test_the_busy_prompt_in_english() -> None:
    ivr = session(locale="en")
    ivr.start()
    assert ivr.handle(SpeechBusy())[0] == Play(
        "Speech recognition is busy. Please use your keypad.", "defaults.busy_prompt", True
    )
