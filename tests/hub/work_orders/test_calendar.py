"""Deadlines in working days across weekends, holidays and adjusted working days (调休)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.work_orders.calendar import WorkingCalendar

TZ = ZoneInfo("Asia/Shanghai")
# A National Day week like China's: Oct 1-7 off, Sunday Sep 27 and Saturday Oct 10 are working days.
NATIONAL_DAY = WorkingCalendar.of(
    holidays=[date(2026, 10, d) for d in range(1, 8)], workdays=[date(2026, 9, 27), date(2026, 10, 10)]
)


@pytest.mark.parametrize(
    "start,days,end",
    [
        (date(2026, 11, 23), 1, date(2026, 11, 24)),  # Mon + 1 → Tue
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Fri + 1 → Mon (weekend skipped)
        (date(2026, 11, 28), 1, date(2026, 11, 30)),  # signed on Saturday → Mon
        (date(2026, 11, 23), 5, date(2026, 11, 30)),  # a working week
        (date(2026, 9, 25), 1, date(2026, 9, 27)),  # Fri + 1 → the adjusted working Sunday
        (date(2026, 9, 29), 2, date(2026, 10, 8)),  # Tue + 2 → Wed 30 Sep, then Thu 8 Oct after the holiday
        (date(2026, 9, 30), 3, date(2026, 10, 10)),  # Oct 8, 9, then the adjusted working Saturday
        (date(2026, 10, 3), 1, date(2026, 10, 8)),
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
    ],
)
def test_add_working_days(start: date, days: int, end: date) -> None:
    assert NATIONAL_DAY.add_working_days(start, days) == end


def test_due_at_is_the_end_of_the_last_working_day_in_local_time() -> None:
    signed = datetime(2026, 9, 29, 20, 30, tzinfo=ZoneInfo("UTC"))  # already Sep 30 04:30 in Beijing
    assert NATIONAL_DAY.due_at(signed, 1, TZ) == datetime(2026, 10, 8, 23, 59, 59, tzinfo=TZ)
    saturday = datetime(2026, 10, 3, 9, tzinfo=TZ)
    assert NATIONAL_DAY.due_at(saturday, 0, TZ) == datetime(2026, 10, 8, 23, 59, 59, tzinfo=TZ)


def test_working_days_between() -> None:
    assert NATIONAL_DAY.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert NATIONAL_DAY.working_days_between(date(2026, 10, 10), date(2026, 9, 30)) == -3
    with pytest.raises(ValueError):
        NATIONAL_DAY.add_working_days(date(2026, 1, 1), -1)
