"""Curation of the knowledge base: who may do what, the review workflow, versions, diffs and rollback.

Workflow (docs/adr/0006-knowledge-base-curation.md)::

    draft ──submit──▶ in_review ──publish──▶ published ──archive──▶ archived
      ▲                  │ reject                │ edit (new version; the published one keeps answering)
      └──────────────────┴───────────────────────┘

* Editors (knowledge managers, administrators) create, edit, submit, roll back and archive.
* Reviewers (knowledge managers, supervisors, administrators) publish or reject what is in review — never a
  change they authored themselves (four eyes: any version since the last published one).
* Everybody on the staff reads and may suggest an edit; agents can do nothing else.

After anything that changes what citizens get (publish, archive) the ``on_change`` callback runs, which the
composition root points at the live index's reload.
"""

from __future__ import annotations

import difflib
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hub.localtime import CityTime
from hub.models import Role, User
from hub.taxonomy import Taxonomy
from knowledge_base.exchange import ImportReport, row_to_content
from knowledge_base.store import (
    CONTENT_FIELDS,
    TIME_FIELDS,
    Article,
    ArticleExists,
    KnowledgeStore,
    Version,
    normalise_content,
)

EDITORS = frozenset({Role.KNOWLEDGE_MANAGER, Role.ADMIN})
REVIEWERS = frozenset({Role.KNOWLEDGE_MANAGER, Role.SUPERVISOR, Role.ADMIN})
READERS = frozenset(Role)
SUGGESTERS = frozenset({Role.AGENT, Role.SUPERVISOR, Role.LEADER, Role.KNOWLEDGE_MANAGER, Role.ADMIN})

STATUSES = ("draft", "in_review", "published", "archived")
ARTICLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SPOKEN_MAX = 300

FIELD_LABELS = {
    "question": "标准问题",
    "similar_questions": "相似问法",
    "answer": "答案",
    "spoken_answer": "语音/短信答案",
    "industry": "行业",
    "category": "类别",
    "unit": "责任单位",
    "commitments": "服务承诺",
    "fees": "收费标准",
    "links": "链接/附件",
    "effective_from": "生效时间",
    "expires_at": "失效时间",
    "tags": "标签",
}


class KbError(Exception):
    """A refused curation request; ``code`` is stable (for APIs and UI strings), the message is for humans."""

    code = "kb_error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(KbError):
    code = "forbidden"
    status = 403


class IllegalTransition(KbError):
    code = "illegal_transition"
    status = 409


class StaleVersion(KbError):
    code = "stale_version"
    status = 409


class NotFound(KbError):
    code = "not_found"
    status = 404


class Invalid(KbError):
    code = "invalid"
    status = 400


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a unified diff: kind is ' ', '+', '-' or '@' (hunk header)."""

    kind: str
    text: str


def render_content(content: dict[str, Any], city: CityTime | None = None) -> list[str]:
    """A readable line-per-value rendering of a content snapshot (what diffs compare; times in ``city``'s zone)."""
    lines: list[str] = []
    for name in CONTENT_FIELDS:
        value = content.get(name)
        label = FIELD_LABELS[name]
        if name in TIME_FIELDS and value:
            lines.append(f"{label}: {(city or CityTime()).format(value)}")
        elif isinstance(value, list):
            lines.extend(f"{label}: {item}" for item in value)
        elif value:
            lines.extend(f"{label}: {part}" for part in str(value).splitlines() or [""])
    return lines


def diff_contents(
    old: dict[str, Any], new: dict[str, Any], old_name: str = "a", new_name: str = "b", city: CityTime | None = None
) -> list[DiffLine]:
    """Unified diff (3 lines of context) between two content snapshots."""
    out = []
    before, after = render_content(old, city), render_content(new, city)
    for line in difflib.unified_diff(before, after, old_name, new_name, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        out.append(DiffLine(line[0] if line[0] in "+-@" else " ", line[1:] if line[0] in "+- " else line))
    return out


def derive_spoken(answer: str) -> str:
    """A short spoken form from a written answer: its first sentences, plain text, at most 120 characters."""
    text = re.sub(r"\s+", " ", re.sub(r"[#*>`_\[\]]", "", answer)).strip()
    if len(text) <= 120:
        return text
    cut = max(text.rfind(p, 0, 120) for p in "。；;！!？?")
    return text[: cut + 1] if cut >= 40 else text[:119] + "…"


class KnowledgeService:
    """Permission checks and workflow transitions over a :class:`KnowledgeStore`.

    Args:
        store: The storage.
        taxonomy: Current taxonomy (validates industry, category and unit codes).
        on_change: Awaited after every change to what citizens get (publish, archive).
    """

    def __init__(
        self,
        store: KnowledgeStore,
        taxonomy: Callable[[], Taxonomy],
        on_change: Callable[[], Awaitable[None]] | None = None,
        city: CityTime | None = None,
    ) -> None:
        self.store = store
        self._taxonomy = taxonomy
        self._on_change = on_change
        self.city = city or CityTime()  # imported times without an offset are this zone's local time

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()

    @staticmethod
    def _require(user: User, roles: Iterable[Role], what: str) -> None:
        if user.role not in frozenset(roles):
            raise PermissionDenied(f"{user.role.value} may not {what}")

    async def _get(self, article_id: str) -> Article:
        article = await self.store.get(article_id)
        if article is None:
            raise NotFound(f"no article {article_id!r}")
        return article

    def validate(self, content: dict[str, Any]) -> dict[str, Any]:
        """Normalise and check an article's content; fills a missing spoken answer from the written one.

        Raises:
            Invalid: Missing question/answer, unknown industry/category/unit codes, bad dates.
        """
        try:
            clean = normalise_content(content)
        except ValueError as exc:
            raise Invalid(f"bad date: {exc}") from exc
        clean["question"] = clean["question"].strip()
        clean["answer"] = clean["answer"].strip()
        clean["similar_questions"] = list(dict.fromkeys(q.strip() for q in clean["similar_questions"]))
        if not clean["question"]:
            raise Invalid("the standard question is required")
        if not clean["answer"]:
            raise Invalid("the answer is required")
        clean["spoken_answer"] = clean["spoken_answer"].strip() or derive_spoken(clean["answer"])
        if len(clean["spoken_answer"]) > SPOKEN_MAX:
            raise Invalid(f"the spoken answer is longer than {SPOKEN_MAX} characters")
        tax = self._taxonomy()
        for name, known in (("industry", tax.industries), ("category", tax.categories), ("unit", tax.units)):
            if clean[name] is not None and clean[name] not in known:
                raise Invalid(f"unknown {name} {clean[name]!r}")
        if clean["category"] and not clean["industry"]:
            clean["industry"] = tax.industry_of_category(clean["category"])
        start, end = clean["effective_from"], clean["expires_at"]
        if start and end and end <= start:
            raise Invalid("the expiry date must be after the effective date")
        return clean

    # -- reading -----------------------------------------------------------------------------------

    async def get(self, user: User, article_id: str) -> Article:
        self._require(user, READERS, "read articles")
        return await self._get(article_id)

    async def history(self, user: User, article_id: str) -> list[Version]:
        self._require(user, READERS, "read articles")
        await self._get(article_id)
        return await self.store.versions(article_id)

    async def diff(self, user: User, article_id: str, old: int, new: int) -> list[DiffLine]:
        """The diff from version ``old`` to version ``new``."""
        self._require(user, READERS, "read articles")
        a, b = await self.store.version(article_id, old), await self.store.version(article_id, new)
        if a is None or b is None:
            raise NotFound(f"no such version of {article_id!r}")
        return diff_contents(a.content, b.content, f"v{old}", f"v{new}", self.city)

    # -- editing -----------------------------------------------------------------------------------

    async def create(self, user: User, content: dict[str, Any], article_id: str | None = None) -> Article:
        """A new draft (id generated when not given)."""
        self._require(user, EDITORS, "create articles")
        clean = self.validate(content)
        article_id = (article_id or "").strip() or f"kb-{secrets.token_hex(4)}"
        if not ARTICLE_ID.match(article_id):
            raise Invalid("article ids use letters, digits, '.', '_' and '-' (at most 64)")
        try:
            return await self.store.create(article_id, clean, user.id)
        except ArticleExists as exc:
            raise Invalid(f"article {article_id!r} already exists") from exc

    async def update(
        self, user: User, article_id: str, content: dict[str, Any], base_version: int | None = None
    ) -> Article:
        """Save new content as the next version, back in draft (a published version keeps answering).

        Raises:
            StaleVersion: Someone saved since ``base_version`` was loaded.
        """
        self._require(user, EDITORS, "edit articles")
        await self._get(article_id)
        clean = self.validate(content)
        saved = await self.store.save(article_id, clean, user.id, status="draft", base_version=base_version)
        if saved is None:
            raise StaleVersion("the article changed since you opened it; reload and edit again")
        return saved

    async def _transition(
        self, user: User, article_id: str, to: str, action: str, allowed_from: tuple[str, ...], note: str | None
    ) -> Article:
        article = await self._get(article_id)
        if article.status not in allowed_from:
            raise IllegalTransition(f"cannot {action} an article that is {article.status}")
        moved = await self.store.set_status(article_id, to, user.id, action, note, expect_status=allowed_from)
        if moved is None:
            raise IllegalTransition(f"the article changed while trying to {action} it")
        return moved

    async def submit(self, user: User, article_id: str, note: str | None = None) -> Article:
        """Draft → in review."""
        self._require(user, EDITORS, "submit articles for review")
        return await self._transition(user, article_id, "in_review", "submit", ("draft",), note)

    async def publish(self, user: User, article_id: str, note: str | None = None) -> Article:
        """In review → published, by a reviewer who authored none of the unpublished versions."""
        self._require(user, REVIEWERS, "publish articles")
        article = await self._get(article_id)
        if article.status != "in_review":
            raise IllegalTransition(f"only an article in review can be published (it is {article.status})")
        if user.id in await self.store.authors_since(article_id, article.published_version):
            raise PermissionDenied("you cannot publish your own change: another reviewer must approve it")
        published = await self._transition(user, article_id, "published", "publish", ("in_review",), note)
        await self._changed()
        return published

    async def reject(self, user: User, article_id: str, note: str | None = None) -> Article:
        """In review → draft, with the reviewer's note."""
        self._require(user, REVIEWERS, "review articles")
        return await self._transition(user, article_id, "draft", "reject", ("in_review",), note)

    async def archive(self, user: User, article_id: str, note: str | None = None) -> Article:
        """Take an article out of service (any state but archived)."""
        self._require(user, EDITORS | REVIEWERS, "archive articles")
        archived = await self._transition(
            user, article_id, "archived", "archive", ("draft", "in_review", "published"), note
        )
        await self._changed()
        return archived

    async def rollback(self, user: User, article_id: str, to_version: int) -> Article:
        """A new version with the content of ``to_version``, in review (it needs a reviewer like any change)."""
        self._require(user, EDITORS, "roll back articles")
        article = await self._get(article_id)
        old = await self.store.version(article_id, to_version)
        if old is None:
            raise NotFound(f"article {article_id!r} has no version {to_version}")
        if to_version == article.version:
            raise IllegalTransition("that is already the current version")
        saved = await self.store.save(
            article_id,
            old.content,
            user.id,
            status="in_review",
            action="rollback",
            note=f"rollback to v{to_version}",
            base_version=article.version,
        )
        if saved is None:
            raise StaleVersion("the article changed meanwhile; try again")
        return saved

    # -- suggestions -------------------------------------------------------------------------------

    async def suggest(self, user: User, article_id: str | None, text: str) -> int:
        """Record an edit suggestion (agents' way to improve an article)."""
        self._require(user, SUGGESTERS, "suggest edits")
        text = text.strip()
        if not text:
            raise Invalid("the suggestion is empty")
        if article_id:
            await self._get(article_id)
        return await self.store.add_suggestion(article_id or None, user.id, text[:4000])

    async def resolve_suggestion(self, user: User, suggestion_id: int, accepted: bool) -> None:
        self._require(user, EDITORS, "resolve suggestions")
        if not await self.store.resolve_suggestion(suggestion_id, "accepted" if accepted else "dismissed", user.id):
            raise NotFound("no open suggestion with that id")

    # -- import/export -----------------------------------------------------------------------------

    async def import_rows(
        self, user: User, rows: list[tuple[int, dict[str, str]]], submit: bool = False
    ) -> ImportReport:
        """Create or update articles from imported rows (new versions in draft, or in review with ``submit``).

        Rows with errors are reported and skipped; an unchanged article gets no new version.
        """
        self._require(user, EDITORS, "import articles")
        report = ImportReport()
        for line, row in rows:
            article_id = (row.get("id") or "").strip()
            try:
                content = self.validate(row_to_content(row, self.city))
                existing = await self.store.get(article_id) if article_id else None
                if existing is None:
                    article = await self.create(user, content, article_id or None)
                    report.created.append(article.id)
                elif existing.content == content:
                    report.unchanged.append(article_id)
                    continue
                else:
                    article = await self.update(user, article_id, content)
                    report.updated.append(article.id)
                if submit:
                    await self.submit(user, article.id, "import")
            except KbError as exc:
                report.errors.append((line, exc.message))
        return report

    async def export(self, user: User) -> list[Article]:
        self._require(user, READERS, "read articles")
        return await self.store.list_articles(limit=100_000)
