"""The city's time zone: times are stored as UTC, shown and typed in the city's local time.

One :class:`CityTime` is built by the composition root from ``--timezone`` (``REXIAN_TIMEZONE``) and handed to
everything that shows or parses times (docs/adr/0024-time-zones.md). :data:`DEFAULT_TIMEZONE` is the only place
that names a zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.clock import as_utc

DEFAULT_TIMEZONE = "Asia/Shanghai"
DISPLAY = "%Y-%m-%d %H:%M"  # how pages show a time
INPUT = "%Y-%m-%dT%H:%M"  # the value of an <input type="datetime-local">


class UnknownTimezone(ValueError):
    """Not an IANA time zone name known to this system."""


def load_zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (an IANA name such as ``Asia/Shanghai``).

    Raises:
        UnknownTimezone: ``name`` is empty, malformed or not in the system's time zone database.
    """
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(f"unknown time zone {name!r} (expected an IANA name such as Asia/Shanghai)") from None


DEFAULT_ZONE = load_zone(DEFAULT_TIMEZONE)


@dataclass(frozen=True, slots=True)
class CityTime:
    """Conversions between stored UTC instants and the city's local time.

    Shown times are local wall-clock times; typed times without an offset are local; everything handed to
    storage is timezone-aware UTC.
    """

    zone: tzinfo = field(default=DEFAULT_ZONE)

    @classmethod
    def named(cls, name: str) -> CityTime:
        """The city time of the zone called ``name`` (raises :class:`UnknownTimezone`)."""
        return cls(load_zone(name))

    @property
    def name(self) -> str:
        """The zone's IANA name (what browsers take as ``Intl.DateTimeFormat``'s ``timeZone``)."""
        return str(getattr(self.zone, "key", None) or self.zone)

    # -- showing ------------------------------------------------------------------------------------

    def local(self, value: datetime) -> datetime:
        """``value`` (aware, or naive UTC as SQLite returns it) in the city's zone."""
        return as_utc(value).astimezone(self.zone)

    def format(self, value: datetime | str | None, fmt: str = DISPLAY) -> str:
        """A stored time as the pages show it (``2026-12-08 07:30``); ``""`` for None.

        Strings are ISO 8601 times as kept in JSON documents (an offset, or UTC without one).
        """
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return self.local(value).strftime(fmt)

    def format_date(self, value: datetime | date | str | None) -> str:
        """The city's calendar day of a stored time (``2026-12-08``); dates are shown as they are."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        return self.format(value, "%Y-%m-%d")

    def iso(self, value: datetime | None) -> str | None:
        """ISO 8601 with the city's offset (``2026-12-08T07:30:00+08:00``): the staff API's form of a time."""
        return None if value is None else self.local(value).isoformat()

    def input_value(self, value: datetime | str | None) -> str:
        """A stored time as the value of a ``datetime-local`` input."""
        return self.format(value, INPUT)

    # -- days ---------------------------------------------------------------------------------------

    def today(self, now: datetime) -> date:
        """The city's calendar day at the instant ``now``."""
        return self.local(now).date()

    def start_of(self, day: date) -> datetime:
        """Local midnight starting ``day``, in UTC."""
        return datetime.combine(day, time(), self.zone).astimezone(UTC)

    def day_range(self, first: date, last: date) -> tuple[datetime, datetime]:
        """``[first 00:00, last + 1 day 00:00)`` of local days, in UTC (filters by date)."""
        return self.start_of(first), self.start_of(last + timedelta(days=1))

    # -- parsing ------------------------------------------------------------------------------------

    def attach(self, value: datetime) -> datetime:
        """A time read from a form or a file, in UTC: naive values are the city's local time."""
        return (value if value.tzinfo is not None else value.replace(tzinfo=self.zone)).astimezone(UTC)

    def parse(self, text: str | None) -> datetime | None:
        """What staff typed (``2026-12-08T07:30``, ``2026-12-08 07:30``, ``2026-12-08``) as an aware UTC time.

        Without an offset the text is the city's local time (a date alone is its local midnight); with one,
        that offset counts. Empty text is None.

        Raises:
            ValueError: Not an ISO 8601 date or time.
        """
        text = (text or "").strip()
        if not text:
            return None
        return self.attach(datetime.fromisoformat(text))
