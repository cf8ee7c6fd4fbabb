"""Import and export of articles as CSV (UTF-8) and Excel (.xlsx).

Columns: ``id,question,similar_questions,answer,industry`` (required header, in this order), then optionally
``spoken_answer,category,unit,commitments,fees,links,effective_from,expires_at,tags,status``. List columns
(similar questions, links, tags) separate their items with ``|``. Unknown extra columns are ignored.

Times (``effective_from``, ``expires_at``) are the city's local time: exported as ``2026-12-08 07:30``, and
imported values without an offset (text, or Excel date cells) are read as local time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.localtime import CityTime
from knowledge_base.store import LIST_FIELDS, TIME_FIELDS, Article

REQUIRED = ("id", "question", "similar_questions", "answer", "industry")
OPTIONAL = (
    "spoken_answer",
    "category",
    "unit",
    "commitments",
    "fees",
    "links",
    "effective_from",
    "expires_at",
    "tags",
    "status",
)
COLUMNS = REQUIRED + OPTIONAL
SEPARATOR = "|"


class ImportFormatError(ValueError):
    """The file is not a valid article table (missing header columns, unreadable)."""


@dataclass
class ImportReport:
    """What an import did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line or row number, message)


def _import_time(text: str, city: CityTime) -> datetime | str | None:
    """A time cell as aware UTC (local time without an offset); unreadable text is kept for validation to
    report."""
    try:
        return city.parse(text)
    except ValueError:
        return text


def _export_time(value: Any, city: CityTime) -> str:
    """A stored time as local ``YYYY-MM-DD HH:MM`` (with seconds only when it has some)."""
    if value in (None, ""):
        return ""
    local = city.local(datetime.fromisoformat(str(value)))
    return local.replace(tzinfo=None).isoformat(" ", timespec="seconds" if local.second else "minutes")


def row_to_content(row: dict[str, Any], city: CityTime | None = None) -> dict[str, Any]:
    """An imported row as article content (list columns split on ``|``; times in ``city``'s zone)."""
    city = city or CityTime()
    content: dict[str, Any] = {}
    for name in COLUMNS:
        if name in ("id", "status"):
            continue
        value = row.get(name)
        text = "" if value is None else str(value).strip()
        if name in LIST_FIELDS:
            content[name] = [part.strip() for part in text.split(SEPARATOR) if part.strip()]
        elif name in TIME_FIELDS:
            content[name] = _import_time(text, city)
        else:
            content[name] = text or None
    for name in ("question", "answer", "spoken_answer"):
        content[name] = content[name] or ""
    return content


def article_to_row(article: Article, city: CityTime | None = None) -> dict[str, str]:
    """An article head as an export row (times in ``city``'s zone)."""
    city = city or CityTime()
    row: dict[str, str] = {}
    for name in COLUMNS:
        if name == "id":
            row[name] = article.id
        elif name == "status":
            row[name] = article.status
        elif name in TIME_FIELDS:
            row[name] = _export_time(article.content.get(name), city)
        else:
            value = article.content.get(name)
            if isinstance(value, list):
                row[name] = SEPARATOR.join(v.replace(SEPARATOR, "｜") for v in value)
            else:
                row[name] = "" if value is None else str(value)
    return row


def _check_header(header: list[str]) -> list[str]:
    cleaned = [h.strip().lstrip("\ufeff").lower() for h in header]
    if tuple(cleaned[: len(REQUIRED)]) != REQUIRED:
        raise ImportFormatError(f"the header must start with {','.join(REQUIRED)} (got {','.join(cleaned[:5])})")
    return cleaned


def read_csv(data: bytes | str) -> list[tuple[int, dict[str, str]]]:
    """Rows of a UTF-8 CSV (a BOM is accepted) as (line number, row)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFormatError("the CSV file must be UTF-8") from exc
    reader = csv.reader(io.StringIO(data))
    try:
        header = _check_header(next(reader))
    except StopIteration as exc:
        raise ImportFormatError("the CSV file is empty") from exc
    out = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        out.append((reader.line_num, dict(zip(header, row, strict=False))))
    return out


def write_csv(articles: Iterable[Article], city: CityTime | None = None) -> str:
    """All articles as CSV text (header row first; times in ``city``'s zone)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for article in articles:
        writer.writerow(article_to_row(article, city))
    return buffer.getvalue()


def read_xlsx(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Rows of the first sheet of an .xlsx workbook as (row number, row)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a non-workbook
        raise ImportFormatError(f"not an Excel workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        try:
            header = _check_header(["" if c is None else str(c) for c in next(rows)])
        except StopIteration as exc:
            raise ImportFormatError("the workbook is empty") from exc
        out = []
        for number, values in enumerate(rows, start=2):
            cells = ["" if v is None else str(v) for v in values]
            if any(c.strip() for c in cells):
                out.append((number, dict(zip(header, cells, strict=False))))
        return out
    finally:
        workbook.close()


def write_xlsx(articles: Iterable[Article], city: CityTime | None = None) -> bytes:
    """All articles as an .xlsx workbook (one sheet, header row first; times in ``city``'s zone)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "articles"
    sheet.append(list(COLUMNS))
    for article in articles:
        row = article_to_row(article, city)
        sheet.append([row[c] for c in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def read_table(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV or .xlsx upload, by file name."""
    if filename.lower().endswith(".xlsx"):
        return read_xlsx(data)
    return read_csv(data)
