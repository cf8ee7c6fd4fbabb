"""Locale selection for pages (``?lang=`` → cookie → Accept-Language → zh-CN) and UI strings."""

from __future__ import annotations

from aiohttp import web

from hub.i18n import normalise_locale

LANG_COOKIE = "lang"

UI: dict[str, dict[str, str]] = {
    "app.title": {"zh-CN": "12319城建服务热线", "en": "12319 City Services Hotline"},
    "chat.title": {"zh-CN": "在线咨询", "en": "Online help"},
    "chat.placeholder": {"zh-CN": "请输入您的问题，按回车发送", "en": "Type your message and press Enter"},
    "chat.send": {"zh-CN": "发送", "en": "Send"},
    "chat.connecting": {"zh-CN": "正在连接…", "en": "Connecting…"},
    "chat.online": {"zh-CN": "已连接", "en": "Connected"},
    "chat.offline": {"zh-CN": "连接中断，正在重连…", "en": "Disconnected, reconnecting…"},
    "chat.new": {"zh-CN": "新会话", "en": "New conversation"},
    "chat.sending": {"zh-CN": "发送中", "en": "sending"},
    "login.title": {"zh-CN": "工作人员登录", "en": "Staff sign-in"},
    "login.username": {"zh-CN": "用户名", "en": "Username"},
    "login.password": {"zh-CN": "密码", "en": "Password"},
    "login.submit": {"zh-CN": "登录", "en": "Sign in"},
    "login.failed": {"zh-CN": "用户名或密码错误", "en": "Wrong username or password"},
    "logout": {"zh-CN": "退出", "en": "Sign out"},
    "staff.title": {"zh-CN": "工作台", "en": "Workspace"},
    "staff.inbox": {"zh-CN": "座席工作台（统一收件箱）", "en": "Agent inbox"},
    "staff.open_inbox": {"zh-CN": "进入统一收件箱", "en": "Open the inbox"},
    "staff.orders": {"zh-CN": "本单位工单", "en": "Our work orders"},
    "staff.no_orders": {"zh-CN": "暂无工单", "en": "No work orders"},
    "staff.live": {"zh-CN": "当前概况", "en": "Current state"},
    "staff.conversations": {"zh-CN": "会话", "en": "Conversations"},
    "staff.work_orders": {"zh-CN": "工单", "en": "Work orders"},
    "staff.role": {"zh-CN": "角色", "en": "Role"},
    "staff.unit": {"zh-CN": "单位", "en": "Unit"},
    "col.number": {"zh-CN": "工单号", "en": "Number"},
    "col.created": {"zh-CN": "受理时间", "en": "Received"},
    "col.category": {"zh-CN": "类别", "en": "Category"},
    "col.address": {"zh-CN": "地址", "en": "Address"},
    "col.state": {"zh-CN": "状态", "en": "State"},
    "col.description": {"zh-CN": "诉求内容", "en": "Description"},
    "role.agent": {"zh-CN": "座席", "en": "Agent"},
    "role.supervisor": {"zh-CN": "班长", "en": "Supervisor"},
    "role.leader": {"zh-CN": "领导", "en": "Leader"},
    "role.department": {"zh-CN": "部门工作人员", "en": "Department staff"},
    "role.knowledge_manager": {"zh-CN": "知识库管理员", "en": "Knowledge manager"},
    "role.admin": {"zh-CN": "系统管理员", "en": "Administrator"},
    "inbox.title": {"zh-CN": "统一收件箱", "en": "Inbox"},
    "inbox.queue": {"zh-CN": "排队中", "en": "Queue"},
    "inbox.mine": {"zh-CN": "我的会话", "en": "My conversations"},
    "inbox.empty": {"zh-CN": "暂无", "en": "None"},
    "inbox.claim": {"zh-CN": "接入", "en": "Claim"},
    "inbox.close": {"zh-CN": "结束会话", "en": "Close"},
    "inbox.reply": {"zh-CN": "回复", "en": "Reply"},
    "inbox.reply_placeholder": {"zh-CN": "输入回复内容，Ctrl+Enter 发送", "en": "Reply, Ctrl+Enter to send"},
    "inbox.select": {"zh-CN": "请从左侧选择一个会话", "en": "Select a conversation"},
    "inbox.nlu": {"zh-CN": "智能识别", "en": "NLU"},
    "inbox.history": {"zh-CN": "历史会话", "en": "Earlier conversations"},
    "inbox.orders": {"zh-CN": "工单", "en": "Work orders"},
    "inbox.contact": {"zh-CN": "联系人", "en": "Contact"},
    "inbox.live": {"zh-CN": "实时", "en": "live"},
    "channel.web_chat": {"zh-CN": "网页", "en": "web chat"},
    "channel.rest": {"zh-CN": "接口", "en": "REST"},
    "channel.voice": {"zh-CN": "电话", "en": "phone"},
    "channel.sms": {"zh-CN": "短信", "en": "SMS"},
    "channel.email": {"zh-CN": "邮件", "en": "email"},
    "channel.telegram": {"zh-CN": "Telegram", "en": "Telegram"},
    "handoff.requested": {"zh-CN": "用户要求转人工", "en": "asked for an agent"},
    "handoff.nlu_unavailable": {"zh-CN": "智能识别不可用", "en": "NLU unavailable"},
    "handoff.low_confidence": {"zh-CN": "识别置信度低", "en": "low NLU confidence"},
    "handoff.misunderstood": {"zh-CN": "多次未理解", "en": "repeatedly not understood"},
    "handoff.slot_filling_failed": {"zh-CN": "信息收集失败", "en": "could not collect details"},
}


def labels(locale: str) -> dict[str, str]:
    """Labels the inbox script needs: channels, statuses, hand-off reasons, work-order states."""
    from hub.i18n import CATALOG, normalise_locale

    loc = normalise_locale(locale)
    out = {k: v.get(loc) or v["zh-CN"] for k, v in UI.items() if k.startswith(("channel.", "handoff."))}
    for key, entry in CATALOG.items():
        if key.startswith(("status.", "state.")):
            out[key] = entry.get(loc) or entry["zh-CN"]
    return out


def locale_of(request: web.Request) -> str:
    """The page locale of this request."""
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if not chosen:
        accept = request.headers.get("Accept-Language", "")
        chosen = "en" if accept.lower().startswith("en") else "zh-CN"
    return normalise_locale(chosen)


def ui(key: str, locale: str) -> str:
    """A UI string (falls back to the hub's catalogue, e.g. ``state.*`` and ``status.*``)."""
    from hub.i18n import CATALOG

    entry = UI.get(key) or CATALOG.get(key)
    if entry is None:
        return key
    return entry.get(locale) or entry["zh-CN"]
