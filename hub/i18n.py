"""zh-CN first, English available: every user-facing string of the hub by key."""

from __future__ import annotations

from typing import Any

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")

CATALOG: dict[str, dict[str, str]] = {
    # -- bot --------------------------------------------------------------------------------------
    "bot.welcome": {
        "zh-CN": "您好，这里是12319城建服务热线智能客服。请问有什么可以帮您？您可以咨询政策、反映问题，"
        "也可以随时输入“转人工”。",
        "en": "Hello, this is the 12319 city services hotline assistant. Ask a question or report a problem; "
        "type “agent” at any time to reach a person.",
    },
    "bot.greet": {"zh-CN": "您好！请问有什么可以帮您？", "en": "Hello! How can I help you?"},
    "bot.thank": {
        "zh-CN": "不客气，很高兴为您服务。还有其他问题吗？",
        "en": "You're welcome. Anything else?",
    },
    "bot.goodbye": {"zh-CN": "感谢您的来电来信，再见！", "en": "Thank you for contacting us. Goodbye!"},
    "bot.kb_answer_suffix": {"zh-CN": "以上信息是否解决了您的问题？", "en": "Did this answer your question?"},
    "bot.kb_offer": {
        "zh-CN": "您想了解的是以下哪个问题？请回复序号：\n{choices}",
        "en": "Which of these do you mean? Reply with the number:\n{choices}",
    },
    "bot.kb_unhelpful": {
        "zh-CN": "抱歉没能帮到您，我们会完善这条答复。您可以换个说法再问，或输入“转人工”由座席为您解答。",
        "en": "Sorry that did not help; we will improve the answer. Rephrase, or type “agent” for a person.",
    },
    "bot.kb_helpful": {"zh-CN": "很高兴能帮到您！还有其他问题吗？", "en": "Glad it helped! Anything else?"},
    "bot.not_understood": {
        "zh-CN": "抱歉，我没有完全理解您的问题。能换个说法再描述一下吗？",
        "en": "Sorry, I did not quite understand. Could you rephrase?",
    },
    "bot.handoff": {
        "zh-CN": "正在为您转接人工客服，请稍候，座席接入后会在这里回复您。",
        "en": "Connecting you to an agent, please wait; they will reply here.",
    },
    "bot.handoff_degraded": {
        "zh-CN": "智能客服暂时无法处理您的消息，已为您转接人工客服，请稍候。",
        "en": "The assistant is unavailable right now; an agent will take over, please wait.",
    },
    "bot.wo_start": {
        "zh-CN": "收到，您反映的是【{industry}】方面的{type}。",
        "en": "Got it: a {type} about {industry}.",
    },
    "bot.ask_address": {
        "zh-CN": "请告诉我问题发生的具体地址（区、路名门牌号或小区楼栋）。",
        "en": "Please tell me the exact address (district, street and number, or compound and building).",
    },
    "bot.ask_phone": {
        "zh-CN": "请留下您的联系电话（手机或带区号的座机），以便承办单位与您联系。",
        "en": "Please leave a contact phone number (mobile, or landline with area code).",
    },
    "bot.bad_phone": {
        "zh-CN": "这个号码好像不完整，请输入11位手机号或带区号的座机号码。",
        "en": "That number looks incomplete; please enter an 11-digit mobile or a landline with area code.",
    },
    "bot.wo_created": {
        "zh-CN": "已为您登记工单，工单号：{number}，已派发至【{unit}】办理，承办单位将在规定时限内处理并联系您。"
        "您可凭工单号随时查询进度。",
        "en": "Work order {number} has been registered and sent to {unit}, who will handle it and contact you "
        "within the time limit. Use the number to check its progress.",
    },
    "bot.wo_created_manual": {
        "zh-CN": "已为您登记工单，工单号：{number}，热线中心将尽快派发至责任单位办理。您可凭工单号随时查询进度。",
        "en": "Work order {number} has been registered; the centre will assign it to the responsible unit soon.",
    },
    "bot.wo_cancelled": {"zh-CN": "好的，已取消登记。还有其他可以帮您的吗？", "en": "OK, cancelled."},
    "bot.status_found": {
        "zh-CN": "工单 {number}（{industry}）当前状态：{state}，承办单位：{unit}。",
        "en": "Work order {number} ({industry}) is {state}; handled by {unit}.",
    },
    "bot.status_not_found": {
        "zh-CN": "没有查到工单号 {number}，请核对后重新输入。",
        "en": "No work order {number} was found; please check the number.",
    },
    "bot.status_ask_number": {
        "zh-CN": "请提供您的工单号（12位数字），我来帮您查询办理进度。",
        "en": "Please give me your 12-digit work order number and I will look it up.",
    },
    "bot.out_of_scope": {
        "zh-CN": "您反映的问题不属于12319城建服务热线的受理范围。劳动纠纷请拨打12333，教育问题请联系当地教育部门，"
        "其他政务问题可拨打12345政务服务热线。",
        "en": "This is outside the 12319 hotline's remit. Labour disputes: 12333; other government matters: 12345.",
    },
    "notice.dispatched": {
        "zh-CN": "您的工单 {number} 已派发至【{unit}】办理。",
        "en": "Your work order {number} has been sent to {unit}.",
    },
    "notice.rehandle": {
        "zh-CN": "您的工单 {number} 已安排【{unit}】重新办理。",
        "en": "Your work order {number} is being handled again by {unit}.",
    },
    "notice.closed": {
        "zh-CN": "您反映的问题（工单 {number}）已办结。办理结果：{result}",
        "en": "Your work order {number} has been closed. Result: {result}",
    },
    "bot.callback_ask": {
        "zh-CN": "请您对工单 {number} 的办理结果进行评价，回复数字：1.满意 2.基本满意 3.不满意",
        "en": "Please rate how work order {number} was handled: 1 satisfied, 2 basically satisfied, 3 unsatisfied",
    },
    "bot.callback_cause": {
        "zh-CN": "很抱歉。请问不满意是因为承办单位没有解决您的问题吗？请回复“是”或“否”。",
        "en": "We are sorry. Is it because the responsible unit did not solve the problem? Reply yes or no.",
    },
    "bot.callback_thanks": {"zh-CN": "感谢您的评价！", "en": "Thank you for your feedback!"},
    "bot.callback_rehandle": {
        "zh-CN": "感谢您的反馈，已将工单 {number} 退回承办单位重新办理，我们会继续跟进。",
        "en": "Thank you. Work order {number} goes back to the unit to be handled again; we will follow up.",
    },
    "bot.callback_recorded": {
        "zh-CN": "感谢您的反馈，我们已记录您的意见并将持续改进。",
        "en": "Thank you; your feedback has been recorded.",
    },
    "bot.callback_repeat": {
        "zh-CN": "请回复数字 1、2 或 3：1.满意 2.基本满意 3.不满意",
        "en": "Please reply 1, 2 or 3: 1 satisfied, 2 basically satisfied, 3 unsatisfied",
    },
    "bot.status_latest": {
        "zh-CN": "您最近的工单 {number}（{industry}）当前状态：{state}，承办单位：{unit}。",
        "en": "Your latest work order {number} ({industry}) is {state}; handled by {unit}.",
    },
    "system.assigned": {"zh-CN": "{agent} 已接入，为您服务。", "en": "{agent} has joined the conversation."},
    "system.closed": {
        "zh-CN": "本次会话已结束，感谢您的反映。",
        "en": "This conversation has ended. Thank you.",
    },
    "email.subject": {"zh-CN": "12319城建服务热线回复", "en": "Reply from the 12319 city services hotline"},
    "email.from_name": {"zh-CN": "12319城建服务热线", "en": "12319 City Services Hotline"},
    "sms.opted_out": {
        "zh-CN": "您已退订12319短信通知。如需恢复，请回复“订阅”。",
        "en": "You have unsubscribed from 12319 SMS notices. Reply “订阅” to subscribe again.",
    },
    "sms.opted_in": {
        "zh-CN": "您已重新订阅12319短信通知，回复TD退订。",
        "en": "You are subscribed to 12319 SMS notices again; reply TD to unsubscribe.",
    },
    # -- voice channel (channels/voice) -----------------------------------------------------------
    "voice.call_arrived": {"zh-CN": "来电：{caller}", "en": "Incoming call from {caller}"},
    "voice.withheld": {"zh-CN": "号码未显示", "en": "withheld number"},
    "voice.recording": {"zh-CN": "通话录音", "en": "Call recording"},
    "voice.voicemail_placeholder": {"zh-CN": "[语音留言]", "en": "[voicemail]"},
    "voice.ended": {"zh-CN": "通话结束（{cause}）", "en": "Call ended ({cause})"},
    "voice.cause.caller_bye": {"zh-CN": "来电人挂机", "en": "caller hung up"},
    "voice.cause.agent_bye": {"zh-CN": "坐席挂机", "en": "agent hung up"},
    "voice.cause.ivr_end": {"zh-CN": "自助服务结束", "en": "self-service finished"},
    "voice.cause.abandoned": {"zh-CN": "排队中放弃", "en": "abandoned while waiting"},
    "voice.cause.rejected": {"zh-CN": "拒接", "en": "rejected"},
    "voice.cause.no_input": {"zh-CN": "无按键输入", "en": "no input"},
    "voice.cause.overflow": {"zh-CN": "排队超时", "en": "queue overflow"},
    "voice.cause.interrupted": {"zh-CN": "系统重启，通话中断", "en": "interrupted by a restart"},
    "voice.cause.error": {"zh-CN": "系统错误", "en": "error"},
    "voice.self_service": {
        "zh-CN": "来电人自助查询了工单 {number}（{state}）",
        "en": "The caller looked up work order {number} ({state}) by phone",
    },
    "voice.self_service_none": {
        "zh-CN": "来电人自助查询工单：未查到",
        "en": "The caller's work order lookup found nothing",
    },
    "voice.order_detail": {"zh-CN": "承办单位：{unit}。{result}", "en": "Handled by {unit}. {result}"},
    "voice.queue_position": {
        "zh-CN": "您前面还有{ahead}位，请稍候。",
        "en": "There are {ahead} callers ahead of you. Please hold.",
    },
    "voice.queue_next": {
        "zh-CN": "您是下一位，坐席马上为您服务。",
        "en": "You are next. An agent will be with you shortly.",
    },
    "voice.agent_connecting": {"zh-CN": "正在为您接通坐席。", "en": "Connecting you to an agent."},
    "voice.busy": {"zh-CN": "线路繁忙，请稍后再拨。", "en": "All lines are busy. Please call again later."},
    # -- work order states ------------------------------------------------------------------------
    "state.received": {"zh-CN": "已受理", "en": "received"},
    "state.dispatched": {"zh-CN": "已派单", "en": "dispatched"},
    "state.signed": {"zh-CN": "已签收", "en": "signed for"},
    "state.in_progress": {"zh-CN": "办理中", "en": "in progress"},
    "state.replied": {"zh-CN": "已反馈", "en": "replied"},
    "state.returned": {"zh-CN": "已退单", "en": "returned"},
    "state.closed": {"zh-CN": "已办结", "en": "closed"},
    # -- conversation statuses --------------------------------------------------------------------
    "status.bot": {"zh-CN": "智能客服", "en": "bot"},
    "status.queued": {"zh-CN": "排队中", "en": "queued"},
    "status.assigned": {"zh-CN": "人工服务中", "en": "with agent"},
    "status.closed": {"zh-CN": "已结束", "en": "closed"},
    "centre": {"zh-CN": "热线中心", "en": "the hotline centre"},
    "unknown_industry": {"zh-CN": "城建", "en": "city services"},
}


def normalise_locale(value: str | None) -> str:
    """Map a requested locale (``en``, ``en-US``, ``zh``, ``zh-CN`` ...) to a supported one."""
    if value and value.lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def t(key: str, locale: str = DEFAULT_LOCALE, **params: Any) -> str:
    """The text for ``key`` in ``locale`` (zh-CN fallback), formatted with ``params``."""
    entry = CATALOG[key]
    text = entry.get(normalise_locale(locale)) or entry[DEFAULT_LOCALE]
    return text.format(**params) if params else text
