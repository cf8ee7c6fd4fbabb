"""Working-day arithmetic on an editable holiday calendar with adjusted working days (调休)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True)
class WorkingCalendar:
    """Weekdays work, weekends rest; ``holidays`` rest even on weekdays, ``workdays`` work even on weekends."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> WorkingCalendar:
        """Build a calendar from iterables of dates."""
        return cls(frozenset(holidays), frozenset(workdays))

    def is_working_day(self, day: date) -> bool:
        """Whether staff work on ``day``."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself does not count)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def due_at(self, start: datetime, days: int, tz: tzinfo) -> datetime:
        """Deadline of a time limit of ``days`` working days whose clock starts at ``start``.

        The limit ends at the end (23:59:59 local) of the ``days``-th working day after the start day; a limit of 0
        days ends at the end of the start day (or of the next working day when the start day is a rest day).
        """
        local = start.astimezone(tz).date()
        if days == 0:
            while not self.is_working_day(local):
                local += timedelta(days=1)
            end_day = local
        else:
            end_day = self.add_working_days(local, days)
        return datetime.combine(end_day, time(23, 59, 59), tzinfo=tz)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end] (negative when end is before start)."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count


def calendar_from_rows(rows: Iterable[tuple[date, str]]) -> WorkingCalendar:
    """A calendar from (day, "holiday" | "workday") rows."""
    rows = list(rows)
    return WorkingCalendar.of(
        holidays=[d for d, kind in rows if kind == "holiday"], workdays=[d for d, kind in rows if kind == "workday"]
    )
