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
    "inbox.subject": {"zh-CN": "主题：", "en": "Subject: "},
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
    "inbox.kb": {"zh-CN": "知识库推荐", "en": "Suggested answers"},
    "inbox.correct": {"zh-CN": "更正分类", "en": "Correct labels"},
    "inbox.correct_type": {"zh-CN": "诉求类型", "en": "Request type"},
    "inbox.correct_industry": {"zh-CN": "行业", "en": "Industry"},
    "inbox.send_answer": {"zh-CN": "发送", "en": "Send"},
    "inbox.notify_via": {"zh-CN": "工单通知方式", "en": "Notices via"},
    "inbox.notify_auto": {"zh-CN": "自动（原渠道或短信）", "en": "automatic (same channel or SMS)"},
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


def _merge_feature_strings() -> None:
    from hub.work_orders.i18n import ORDER_UI

    UI.update(ORDER_UI)


_merge_feature_strings()


# -- knowledge base pages (knowledge_base/web.py) ----------------------------------------------------------
UI.update(
    {
        "kb.title": {"zh-CN": "知识库", "en": "Knowledge base"},
        "kb.articles": {"zh-CN": "知识条目", "en": "Articles"},
        "kb.new": {"zh-CN": "新建条目", "en": "New article"},
        "kb.review": {"zh-CN": "待审核", "en": "Review queue"},
        "kb.io": {"zh-CN": "导入/导出", "en": "Import/export"},
        "kb.announcements": {"zh-CN": "信息公告", "en": "Announcements"},
        "kb.gaps": {"zh-CN": "未解答问题", "en": "Unanswered questions"},
        "kb.search": {"zh-CN": "搜索问题或答案", "en": "Search questions or answers"},
        "kb.all_status": {"zh-CN": "全部状态", "en": "Any status"},
        "kb.all_industries": {"zh-CN": "全部行业", "en": "Any industry"},
        "kb.filter": {"zh-CN": "筛选", "en": "Filter"},
        "kb.industry": {"zh-CN": "行业", "en": "Industry"},
        "kb.state": {"zh-CN": "状态", "en": "Status"},
        "kb.version": {"zh-CN": "版本", "en": "Version"},
        "kb.updated": {"zh-CN": "更新时间", "en": "Updated"},
        "kb.status.draft": {"zh-CN": "草稿", "en": "draft"},
        "kb.status.in_review": {"zh-CN": "待审核", "en": "in review"},
        "kb.status.published": {"zh-CN": "已发布", "en": "published"},
        "kb.status.archived": {"zh-CN": "已归档", "en": "archived"},
        "kb.live_version": {"zh-CN": "线上版本", "en": "live"},
        "kb.history": {"zh-CN": "版本历史", "en": "History"},
        "kb.answer_web": {"zh-CN": "图文答案（网页/邮件）", "en": "Written answer (web, email)"},
        "kb.answer_spoken": {"zh-CN": "简短答案（语音/短信）", "en": "Short answer (voice, SMS)"},
        "kb.chars": {"zh-CN": "字", "en": "characters"},
        "kb.edit": {"zh-CN": "编辑", "en": "Edit"},
        "kb.submit": {"zh-CN": "提交审核", "en": "Submit for review"},
        "kb.publish": {"zh-CN": "审核通过并发布", "en": "Approve and publish"},
        "kb.reject": {"zh-CN": "退回修改", "en": "Send back"},
        "kb.archive": {"zh-CN": "归档下线", "en": "Archive"},
        "kb.note": {"zh-CN": "审核意见（可选）", "en": "Note (optional)"},
        "kb.suggestions": {"zh-CN": "修改建议", "en": "Suggested edits"},
        "kb.suggest": {"zh-CN": "发现答案有误或过时？提出修改建议", "en": "Wrong or outdated? Suggest an edit"},
        "kb.suggest_send": {"zh-CN": "提交建议", "en": "Send suggestion"},
        "kb.workflow": {"zh-CN": "审核记录", "en": "Workflow"},
        "kb.editor": {"zh-CN": "编辑知识", "en": "Article editor"},
        "kb.one_per_line": {"zh-CN": "每行一个", "en": "one per line"},
        "kb.comma": {"zh-CN": "逗号分隔", "en": "comma-separated"},
        "kb.spoken_hint": {"zh-CN": "不超过300字，留空则自动截取", "en": "at most 300 characters; derived if empty"},
        "kb.preview": {"zh-CN": "预览", "en": "Preview"},
        "kb.save": {"zh-CN": "保存", "en": "Save"},
        "kb.save_submit": {"zh-CN": "保存并提交审核", "en": "Save and submit for review"},
        "kb.author": {"zh-CN": "作者", "en": "Author"},
        "kb.time": {"zh-CN": "时间", "en": "Time"},
        "kb.change": {"zh-CN": "变更", "en": "Change"},
        "kb.diff": {"zh-CN": "对比", "en": "Diff"},
        "kb.no_diff": {"zh-CN": "无差异", "en": "No differences"},
        "kb.rollback": {"zh-CN": "回滚到此版本", "en": "Roll back to this version"},
        "kb.accept": {"zh-CN": "采纳", "en": "Accept"},
        "kb.dismiss": {"zh-CN": "忽略", "en": "Dismiss"},
        "kb.io_help": {
            "zh-CN": "CSV（UTF-8）或 Excel（.xlsx），首行为表头，相似问法用 | 分隔：",
            "en": "CSV (UTF-8) or Excel (.xlsx) with a header row; similar questions separated by |:",
        },
        "kb.export": {"zh-CN": "导出", "en": "Export"},
        "kb.file": {"zh-CN": "文件", "en": "File"},
        "kb.import": {"zh-CN": "导入", "en": "Import"},
        "kb.import_submit": {"zh-CN": "导入后直接提交审核", "en": "Submit imported articles for review"},
        "kb.district": {"zh-CN": "区域", "en": "District"},
        "kb.ann_title": {"zh-CN": "标题", "en": "Title"},
        "kb.ann_body": {"zh-CN": "内容", "en": "Text"},
        "kb.ann_period": {"zh-CN": "有效期", "en": "Period"},
        "kb.ann_new": {"zh-CN": "发布公告", "en": "New announcement"},
        "kb.ann_start": {"zh-CN": "开始时间（留空为现在）", "en": "Start (empty: now)"},
        "kb.ann_end": {"zh-CN": "结束时间", "en": "End"},
        "kb.ann_stop": {"zh-CN": "提前结束", "en": "End now"},
        "kb.ann_stopped": {"zh-CN": "已停止", "en": "stopped"},
        "kb.gaps_help": {
            "zh-CN": "机器人未能回答的问题（转人工或置信度低），按相似度归组。",
            "en": "Questions the bot could not answer (handed off or low confidence), grouped by similarity.",
        },
        "kb.gap_count": {"zh-CN": "次数", "en": "Count"},
        "kb.gap_examples": {"zh-CN": "示例问法", "en": "Examples"},
        "kb.gap_create": {"zh-CN": "据此新建条目", "en": "Create article from this"},
        "kb.msg.saved": {"zh-CN": "已保存", "en": "Saved"},
        "kb.msg.submit": {"zh-CN": "已提交审核", "en": "Submitted for review"},
        "kb.msg.publish": {"zh-CN": "已发布，机器人已开始使用此答案", "en": "Published: the bot now uses it"},
        "kb.msg.reject": {"zh-CN": "已退回修改", "en": "Sent back"},
        "kb.msg.archive": {"zh-CN": "已归档下线", "en": "Archived"},
        "kb.msg.rollback": {"zh-CN": "已回滚，新版本待审核", "en": "Rolled back: the new version awaits review"},
        "kb.msg.suggest": {"zh-CN": "建议已提交，感谢！", "en": "Suggestion sent, thank you"},
        "kb.msg.resolved": {"zh-CN": "已处理", "en": "Done"},
        "kb.err.forbidden": {"zh-CN": "无权操作", "en": "Not allowed"},
        "kb.err.illegal_transition": {"zh-CN": "当前状态不允许此操作", "en": "Not possible in this state"},
        "kb.err.stale_version": {"zh-CN": "条目已被他人修改", "en": "Changed by someone else"},
        "kb.err.not_found": {"zh-CN": "未找到", "en": "Not found"},
        "kb.err.invalid": {"zh-CN": "内容有误", "en": "Invalid"},
        "kb.action.create": {"zh-CN": "新建", "en": "created"},
        "kb.action.edit": {"zh-CN": "编辑", "en": "edited"},
        "kb.action.baseline": {"zh-CN": "初始版本", "en": "initial version"},
        "kb.action.rollback": {"zh-CN": "回滚", "en": "rollback"},
        "kb.action.submit": {"zh-CN": "提交审核", "en": "submitted"},
        "kb.action.publish": {"zh-CN": "发布", "en": "published"},
        "kb.action.reject": {"zh-CN": "退回", "en": "sent back"},
        "kb.action.archive": {"zh-CN": "归档", "en": "archived"},
        "staff.kb": {"zh-CN": "知识库", "en": "Knowledge base"},
    }
)


# -- voice channel in the inbox and the navigation (channels/voice/web.py has its pages' strings) ------------------
UI.update(
    {
        "nav.calls": {"zh-CN": "通话记录", "en": "Calls"},
        "nav.softphone": {"zh-CN": "软电话", "en": "Softphone"},
        "voice.audio.voicemail": {"zh-CN": "留言录音", "en": "Voicemail"},
        "voice.audio.mixed": {"zh-CN": "通话录音", "en": "Call recording"},
        "voice.audio.caller": {"zh-CN": "主叫", "en": "Caller"},
        "voice.audio.agent": {"zh-CN": "坐席", "en": "Agent"},
        "telegram.photo": {"zh-CN": "市民发送的图片", "en": "Photo sent by the citizen"},
        "telegram.photo.pending": {"zh-CN": "图片下载中…", "en": "Downloading the photo…"},
        "telegram.photo.failed": {"zh-CN": "图片无法下载", "en": "The photo could not be downloaded"},
        "voice.ringing": {
            "zh-CN": "来电 {caller} — 请接听软电话",
            "en": "Incoming call {caller} — answer your softphone",
        },
        "voice.unknown_caller": {"zh-CN": "未知号码", "en": "unknown number"},
        "voice.calls": {"zh-CN": "通话记录", "en": "Calls"},
        "voice.no_calls": {"zh-CN": "暂无", "en": "None"},
        "voice.seconds": {"zh-CN": "秒", "en": "s"},
        "voice.wait": {"zh-CN": "等待", "en": "wait"},
        "voice.talk": {"zh-CN": "通话", "en": "talk"},
        "voice.ivr": {"zh-CN": "导航", "en": "IVR"},
        "voice.agent": {"zh-CN": "坐席", "en": "agent"},
        "voice.outcome.answered": {"zh-CN": "人工接听", "en": "answered"},
        "voice.outcome.abandoned": {"zh-CN": "排队放弃", "en": "abandoned"},
        "voice.outcome.voicemail": {"zh-CN": "留言", "en": "voicemail"},
        "voice.outcome.rejected": {"zh-CN": "已拒接", "en": "rejected"},
        "voice.outcome.ivr": {"zh-CN": "自助结束", "en": "ended in the IVR"},
        "voice.outcome.ongoing": {"zh-CN": "进行中", "en": "in progress"},
    }
)
