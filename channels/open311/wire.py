"""Open311 GeoReport v2 wire format: input validation and JSON documents (no I/O).

Field names follow the GeoReport v2 specification (wiki.open311.org/GeoReport_v2); the updates document
follows FixMyStreet's extension (``servicerequestupdates``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from hub.clock import as_utc
from hub.localtime import CityTime
from hub.taxonomy import Category, Taxonomy

MAX_SPAN = timedelta(days=90)  # the spec's default and maximum date range
MAX_RESULTS = 1000  # the spec's response volume
MAX_IDS = 1000
LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9]{3,20}$")
NUMBER = re.compile(r"^[0-9]{1,32}$")

# Work-order actions whose events are shown to the public (updates, status_notes). Internal ones — remarks,
# leaders' instructions, return reasons, extensions, reminders — never leave the hub.
PUBLIC_ACTIONS = ("receive", "dispatch", "redispatch", "forward", "sign", "start", "reply", "close", "rehandle")
# Of those, the actions whose note is meant for the citizen (the department's result, the closing note).
NOTE_ACTIONS = ("reply", "close", "rehandle")

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "receive": ("已受理", "Received"),
    "dispatch": ("已派单至{unit}", "Dispatched to {unit}"),
    "redispatch": ("已重新派单至{unit}", "Re-dispatched to {unit}"),
    "forward": ("已转派至{unit}", "Forwarded to {unit}"),
    "sign": ("{unit}已签收", "Signed for by {unit}"),
    "start": ("{unit}正在办理", "In progress at {unit}"),
    "reply": ("{unit}已反馈办理结果", "{unit} reported the result"),
    "close": ("已办结", "Closed"),
    "rehandle": ("已交{unit}重新办理", "Sent back to {unit} to be handled again"),
}


class Open311Error(Exception):
    """An error answered as the spec's ``[{"code": ..., "description": ...}]`` with an HTTP status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def document(self) -> list[dict[str, Any]]:
        """The spec's error document."""
        return [{"code": self.status, "description": self.description}]


def bad(description: str) -> Open311Error:
    """A 400 error."""
    return Open311Error(400, description)


def check_format(fmt: str) -> None:
    """Only JSON is served; XML (the spec's other format) gets a clear 400, anything else 404."""
    if fmt == "json":
        return
    if fmt == "xml":
        raise bad("XML is not supported by this server: it speaks JSON only, use the .json URL")
    raise Open311Error(404, f"unknown format .{fmt}: use .json")


def split_format(tail: str) -> str:
    """``municipal.streetlight.json`` → ``municipal.streetlight`` (checking the format)."""
    name, dot, fmt = tail.rpartition(".")
    if not dot or not name:
        raise Open311Error(404, "resource not found: the URL must end with .json")
    check_format(fmt)
    return name


def parse_lang(value: str | None) -> str | None:
    """``lang`` (an extension): zh-CN (default) or en; None when not given."""
    if value is None or not value.strip():
        return None
    low = value.strip().lower().replace("_", "-")
    if low == "zh" or low.startswith("zh-"):
        return "zh-CN"
    if low == "en" or low.startswith("en-"):
        return "en"
    raise bad("lang must be zh-CN or en")


def text(form: Mapping[str, Any], name: str, max_len: int, *, multiline: bool = False) -> str | None:
    """An optional text field: stripped, None when empty, limited in length, no control characters."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{name} must be text")
    value = value.strip()
    if not value:
        return None
    if len(value) > max_len:
        raise bad(f"{name} is longer than {max_len} characters")
    checked = value.replace("\n", "").replace("\r", "").replace("\t", "") if multiline else value
    if CONTROL.search(checked) or (not multiline and ("\n" in value or "\r" in value)):
        raise bad(f"{name} contains control characters")
    return value


def coordinate(form: Mapping[str, Any], name: str, limit: float) -> float | None:
    """A WGS84 coordinate within ±limit."""
    raw = text(form, name, 40)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad(f"{name} must be a decimal number (WGS84)") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise bad(f"{name} must be between -{limit:g} and {limit:g}")
    return value


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A validated POST Service Request."""

    service_code: str
    lat: float | None
    long: float | None
    address_string: str | None
    description: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    media_url: str | None
    lang: str


def parse_new_request(form: Mapping[str, Any]) -> NewRequest:
    """Validate a POST Service Request form (everything but api_key and the service_code's existence)."""
    for key, value in form.items():
        if not isinstance(value, str):
            raise bad(f"{key} must be a form field, not a file")
    service_code = text(form, "service_code", 100)
    if service_code is None:
        raise bad("service_code was not provided")
    lat = coordinate(form, "lat", 90)
    long = coordinate(form, "long", 180)
    if (lat is None) != (long is None):
        raise bad("lat and long must both be sent")
    address_string = text(form, "address_string", 500)
    if lat is None and address_string is None:
        if text(form, "address_id", 100) is not None:
            raise bad("address_id is not supported by this server: send address_string or lat and long")
        raise bad("a location is required: send address_string or lat and long")
    email = text(form, "email", 200)
    if email is not None and not EMAIL.match(email):
        raise bad("email is not a valid e-mail address")
    phone = text(form, "phone", 40)
    if phone is not None:
        phone = re.sub(r"[\s\-()]", "", phone)
        if not PHONE.match(phone):
            raise bad("phone must be a telephone number (digits, optionally starting with +)")
    media_url = text(form, "media_url", 1000)
    if media_url is not None:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in media_url):
            raise bad("media_url must be an http or https URL")
    return NewRequest(
        service_code=service_code,
        lat=lat,
        long=long,
        address_string=address_string,
        description=text(form, "description", 4000, multiline=True),
        email=email,
        first_name=text(form, "first_name", 100),
        last_name=text(form, "last_name", 100),
        phone=phone,
        media_url=media_url,
        lang=parse_lang(form.get("lang")) or DEFAULT_LANG,
    )


def parse_datetime(name: str, value: str | None) -> datetime | None:
    """A w3 datetime with a timezone (``2010-01-01T00:00:00Z``), as UTC."""
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad(f"{name} must be a w3 datetime such as 2010-01-01T00:00:00Z") from None
    if parsed.tzinfo is None or "T" not in value:
        raise bad(f"{name} must be a w3 datetime with a timezone, such as 2010-01-01T00:00:00Z")
    return as_utc(parsed)


def date_range(query: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """start_date/end_date: at most 90 days; the most recent 90 days when not given."""
    start = parse_datetime("start_date", query.get("start_date"))
    end = parse_datetime("end_date", query.get("end_date"))
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if start > end:
        raise bad("start_date must not be after end_date")
    if end - start > MAX_SPAN:
        raise bad("start_date and end_date may not span more than 90 days")
    return start, end


def comma_list(query: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-delimited argument (empty items dropped, duplicates removed, order kept)."""
    raw = query.get(name) or ""
    return tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))


def w3(value: datetime | None, city: CityTime) -> str | None:
    """A datetime in the w3 format, in the city's local time with its offset."""
    return None if value is None else city.local(value).isoformat(timespec="seconds")


def service(category: Category, tax: Taxonomy, lang: str) -> dict[str, Any]:
    """One entry of GET Service List."""
    industry = tax.industries.get(category.industry)
    group = industry.name(lang) if industry else category.industry
    name = category.name(lang)
    if lang == "en":
        description = f"{group}: {name}" + (" (urgent: handled first)" if category.urgent else "")
    else:
        description = f"{group}：{name}" + ("（紧急类，优先处置）" if category.urgent else "")
    return {
        "service_code": category.code,
        "service_name": name,
        "description": description,
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(category.keywords),
        "group": group,
    }


def unit_name(tax: Taxonomy, code: str | None, lang: str) -> str | None:
    """A unit's display name."""
    unit = tax.units.get(code or "")
    return None if unit is None else unit.name(lang)


def service_notice(number: str, unit: str | None, urgent: bool, lang: str) -> str:
    """What happens next, for the citizen."""
    if lang == "en":
        notice = f"Your request has been registered as work order {number}"
        notice += f" and dispatched to {unit}." if unit else "; the hotline centre will dispatch it shortly."
        return notice + (" It is urgent and will be handled first." if urgent else "")
    notice = f"您的诉求已受理，工单号{number}，"
    notice += f"已派至{unit}办理。" if unit else "热线中心将尽快派单。"
    return notice + ("该问题属紧急类，将优先处置。" if urgent else "")


def status_of(state: str) -> str:
    """The spec's status: only a closed (办结) work order is ``closed``."""
    return "closed" if state == "closed" else "open"


def request_document(row: Mapping[str, Any], tax: Taxonomy, lang: str | None, city: CityTime) -> dict[str, Any]:
    """One entry of GET Service Requests / GET Service Request (plus the ``lang`` extension)."""
    lang = lang or row.get("lang") or DEFAULT_LANG
    category = tax.categories.get(row["category"] or "")
    agency = unit_name(tax, row["unit"], lang)
    return {
        "service_request_id": row["number"],
        "status": status_of(row["state"]),
        "status_notes": row.get("status_notes"),
        "service_name": category.name(lang) if category else None,
        "service_code": row["category"],
        "description": row["description"],
        "agency_responsible": agency,
        "service_notice": service_notice(row["number"], agency, bool(row["urgent"]), lang),
        "requested_datetime": w3(row["created_at"], city),
        "updated_datetime": w3(row["updated_at"], city),
        "expected_datetime": w3(row.get("due_at"), city),
        "address": row["address_string"],
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["long"],
        "media_url": row["media_url"],
        "lang": row.get("lang") or DEFAULT_LANG,
    }


def update_document(row: Mapping[str, Any], tax: Taxonomy, lang: str | None, city: CityTime) -> dict[str, Any]:
    """One entry of GET Service Request Updates (FixMyStreet's extension)."""
    lang = lang or row.get("lang") or DEFAULT_LANG
    zh, en = ACTION_LABELS.get(row["action"], (row["action"], row["action"]))
    unit = unit_name(tax, row["unit"], lang) or ("the responsible unit" if lang == "en" else "责任单位")
    description = (en if lang == "en" else zh).format(unit=unit)
    if row["action"] in NOTE_ACTIONS and row.get("note"):
        description = f"{description}: {row['note']}" if lang == "en" else f"{description}：{row['note']}"
    return {
        "update_id": str(row["id"]),
        "service_request_id": row["number"],
        "status": status_of(row["to_state"]),
        "updated_datetime": w3(row["created_at"], city),
        "description": description,
        "media_url": None,
    }


def parse_numbers(query: Mapping[str, str]) -> tuple[str, ...]:
    """service_request_id: comma-delimited work-order numbers."""
    numbers = comma_list(query, "service_request_id")
    if len(numbers) > MAX_IDS:
        raise bad(f"at most {MAX_IDS} service_request_id values at once")
    for number in numbers:
        if not NUMBER.match(number):
            raise bad(f"service_request_id {number!r} is not a valid request id (digits only)")
    return numbers


def parse_statuses(query: Mapping[str, str]) -> tuple[str, ...]:
    """status: open and/or closed."""
    statuses = comma_list(query, "status")
    for status in statuses:
        if status not in ("open", "closed"):
            raise bad(f"status {status!r} is not valid: use open or closed")
    return statuses
