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
    "staff.none": {
        "zh-CN": "您的角色的工作页面将在后续版本提供。",
        "en": "Pages for your role arrive in a later release.",
    },
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
}


def locale_of(request: web.Request) -> str:
    """The page locale of this request."""
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if not chosen:
        accept = request.headers.get("Accept-Language", "")
        chosen = "en" if accept.lower().startswith("en") else "zh-CN"
    return normalise_locale(chosen)


def ui(key: str, locale: str) -> str:
    """A UI string."""
    entry = UI[key]
    return entry.get(locale) or entry["zh-CN"]
