"""CityTime: stored UTC instants shown, counted in days and parsed in the city's zone (docs/adr/0024-time-zones.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hub.localtime import DEFAULT_TIMEZONE, DEFAULT_ZONE, CityTime, UnknownTimezone, load_zone
from hub.storage.schema import TS

SHANGHAI = CityTime.named("Asia/Shanghai")
NEW_YORK = CityTime.named("America/New_York")
LATE = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # 01:30 on 12-08 in Shanghai (UTC+8)


def test_the_default_city_is_shanghai() -> None:
    assert DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert CityTime().name == "Asia/Shanghai" and CityTime().zone == DEFAULT_ZONE
    assert SHANGHAI.name == "Asia/Shanghai" and NEW_YORK.name == "America/New_York"


# -- showing ----------------------------------------------------------------------------------------------------


def test_a_late_utc_instant_is_shown_on_the_next_local_day() -> None:
    assert SHANGHAI.format(LATE) == "2026-12-08 01:30"
    assert SHANGHAI.format_date(LATE) == "2026-12-08"
    assert SHANGHAI.format(LATE, "%H:%M:%S") == "01:30:00"
    assert SHANGHAI.input_value(LATE) == "2026-12-08T01:30"
    assert SHANGHAI.iso(LATE) == "2026-12-08T01:30:00+08:00"
    assert SHANGHAI.local(LATE) == LATE and SHANGHAI.local(LATE).utcoffset() == timedelta(hours=8)


def test_an_instant_in_another_offset_is_shown_in_the_city_zone() -> None:
    tokyo = LATE.astimezone(timezone(timedelta(hours=9)))  # same instant, 02:30 in Tokyo
    assert SHANGHAI.format(tokyo) == "2026-12-08 01:30"
    assert SHANGHAI.iso(tokyo) == "2026-12-08T01:30:00+08:00"


def test_naive_datetimes_from_sqlite_are_utc() -> None:
    naive = datetime(2026, 12, 7, 17, 30)  # as SQLite hands a stored UTC time back
    assert SHANGHAI.format(naive) == "2026-12-08 01:30"
    assert SHANGHAI.iso(naive) == "2026-12-08T01:30:00+08:00"
    assert SHANGHAI.today(naive) == date(2026, 12, 8)


def test_iso_strings_of_json_documents_are_shown_locally() -> None:
    assert SHANGHAI.format("2026-12-07T17:30:00+00:00") == "2026-12-08 01:30"
    assert SHANGHAI.format("2026-12-07T17:30:00") == "2026-12-08 01:30"  # no offset: UTC, as stored
    assert SHANGHAI.format("2026-12-08T01:30:00+08:00") == "2026-12-08 01:30"
    assert SHANGHAI.input_value("2026-12-07T17:30:00+00:00") == "2026-12-08T01:30"


def test_nothing_is_shown_for_missing_times() -> None:
    assert SHANGHAI.format(None) == "" and SHANGHAI.format("") == ""
    assert SHANGHAI.format_date(None) == "" and SHANGHAI.input_value(None) == ""
    assert SHANGHAI.iso(None) is None


def test_plain_dates_are_shown_as_they_are() -> None:
    assert SHANGHAI.format_date(date(2026, 12, 7)) == "2026-12-07"  # a calendar day has no zone
    assert NEW_YORK.format_date(date(2026, 12, 7)) == "2026-12-07"


# -- days -------------------------------------------------------------------------------------------------------


def test_today_turns_at_local_midnight() -> None:
    midnight = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 00:00 on 12-08 in Shanghai
    assert SHANGHAI.today(midnight - timedelta(seconds=1)) == date(2026, 12, 7)
    assert SHANGHAI.today(midnight) == date(2026, 12, 8)
    assert SHANGHAI.today(LATE) == date(2026, 12, 8)  # UTC still says 12-07


def test_start_of_and_day_range_are_local_midnights_in_utc() -> None:
    assert SHANGHAI.start_of(date(2026, 12, 8)) == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    begin, end = SHANGHAI.day_range(date(2026, 12, 8), date(2026, 12, 8))
    assert (begin, end) == (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), datetime(2026, 12, 8, 16, 0, tzinfo=UTC))
    assert begin.tzinfo is UTC and end.tzinfo is UTC
    assert begin <= LATE < end  # 01:30 on 12-08 belongs to 12-08, though its UTC date is 12-07
    begin, end = SHANGHAI.day_range(date(2026, 12, 1), date(2026, 12, 7))
    assert end - begin == timedelta(days=7)
    assert not begin <= LATE < end


# -- parsing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-08T01:30", datetime(2026, 12, 7, 17, 30, tzinfo=UTC)),  # datetime-local value: local time
        ("2026-12-08 01:30", datetime(2026, 12, 7, 17, 30, tzinfo=UTC)),  # as pages and exports show it
        ("  2026-12-08 01:30:15 ", datetime(2026, 12, 7, 17, 30, 15, tzinfo=UTC)),
        ("2026-12-08", datetime(2026, 12, 7, 16, 0, tzinfo=UTC)),  # a date alone: its local midnight
        ("2026-12-08T01:30+00:00", datetime(2026, 12, 8, 1, 30, tzinfo=UTC)),  # an offset counts
        ("2026-12-08T01:30Z", datetime(2026, 12, 8, 1, 30, tzinfo=UTC)),
        ("2026-12-08T01:30:00+09:00", datetime(2026, 12, 7, 16, 30, tzinfo=UTC)),
    ],
)
def test_parse_reads_naive_text_as_local_time(text: str, expected: datetime) -> None:
    parsed = SHANGHAI.parse(text)
    assert parsed == expected and parsed is not None and parsed.tzinfo is UTC


def test_parse_of_empty_text_is_none_and_of_nonsense_an_error() -> None:
    assert SHANGHAI.parse("") is None and SHANGHAI.parse(None) is None and SHANGHAI.parse("   ") is None
    for bad in ("tomorrow", "2026-13-01", "08/12/2026 01:30"):
        with pytest.raises(ValueError):
            SHANGHAI.parse(bad)


def test_attach_makes_form_and_file_times_aware_utc() -> None:
    assert SHANGHAI.attach(datetime(2026, 12, 8, 1, 30)) == LATE  # an Excel date cell: local
    aware = SHANGHAI.attach(datetime(2026, 12, 8, 2, 30, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert aware == LATE and aware.tzinfo is UTC


def test_parse_and_show_round_trip() -> None:
    for text in ("2026-12-08T01:30", "2026-12-31T23:59", "2026-01-01T00:00"):
        assert SHANGHAI.input_value(SHANGHAI.parse(text)) == text
        assert NEW_YORK.input_value(NEW_YORK.parse(text)) == text


# -- another zone, with daylight saving time ----------------------------------------------------------------------


def test_new_york_shows_standard_and_daylight_time() -> None:
    assert NEW_YORK.format(LATE) == "2026-12-07 12:30"  # EST, UTC-5
    assert NEW_YORK.iso(LATE) == "2026-12-07T12:30:00-05:00"
    summer = datetime(2026, 7, 1, 3, 30, tzinfo=UTC)
    assert NEW_YORK.format(summer) == "2026-06-30 23:30"  # EDT, UTC-4: still the day before
    assert NEW_YORK.iso(summer) == "2026-06-30T23:30:00-04:00"
    assert NEW_YORK.today(summer) == date(2026, 6, 30)


def test_new_york_today_and_day_ranges_follow_its_midnights() -> None:
    midnight = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)  # 00:00 EST on 12-08
    assert NEW_YORK.today(midnight - timedelta(seconds=1)) == date(2026, 12, 7)
    assert NEW_YORK.today(midnight) == date(2026, 12, 8)
    assert NEW_YORK.day_range(date(2026, 12, 8), date(2026, 12, 8)) == (
        midnight,
        datetime(2026, 12, 9, 5, 0, tzinfo=UTC),
    )
    # 2026-03-08: clocks go forward, the local day has 23 hours; 2026-11-01: back, 25 hours
    begin, end = NEW_YORK.day_range(date(2026, 3, 8), date(2026, 3, 8))
    assert begin == datetime(2026, 3, 8, 5, 0, tzinfo=UTC) and end - begin == timedelta(hours=23)
    begin, end = NEW_YORK.day_range(date(2026, 11, 1), date(2026, 11, 1))
    assert begin == datetime(2026, 11, 1, 4, 0, tzinfo=UTC) and end - begin == timedelta(hours=25)


def test_new_york_parses_local_text_with_the_offset_of_that_day() -> None:
    assert NEW_YORK.parse("2026-12-07T12:30") == LATE
    assert NEW_YORK.parse("2026-07-01T12:30") == datetime(2026, 7, 1, 16, 30, tzinfo=UTC)
    assert NEW_YORK.parse("2026-12-08") == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    # an ambiguous wall time (the repeated hour when clocks go back) is its first occurrence (fold=0: EDT)
    assert NEW_YORK.parse("2026-11-01T01:30") == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


# -- zone names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC"])
def test_load_zone_accepts_iana_names(name: str) -> None:
    assert load_zone(name) == ZoneInfo(name)
    assert CityTime.named(name).name == name


@pytest.mark.parametrize(
    "name", ["Nowhere/Else", "", " ", " Asia/Shanghai", "Asia/Shanghai ", "asia/shanghai!", "../etc/passwd", "/etc"]
)
def test_load_zone_rejects_unknown_and_empty_names(name: str) -> None:
    with pytest.raises(UnknownTimezone, match="unknown time zone"):
        load_zone(name)
    with pytest.raises(ValueError):  # UnknownTimezone is a ValueError (Settings, argparse)
        CityTime.named(name)


# -- storage: aware UTC in, aware UTC out -------------------------------------------------------------------------


def test_the_store_keeps_utc_and_refuses_naive_times() -> None:
    local = datetime(2026, 12, 8, 1, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    stored = TS.process_bind_param(local, None)
    assert stored == LATE and stored is not None and stored.tzinfo is UTC  # the instant, as UTC digits
    with pytest.raises(ValueError, match="naive datetime"):
        TS.process_bind_param(datetime(2026, 12, 8, 1, 30), None)
    read = TS.process_result_value(datetime(2026, 12, 7, 17, 30), None)  # SQLite: naive UTC digits
    assert read == LATE and read is not None and read.tzinfo is UTC
    assert TS.process_bind_param(None, None) is None and TS.process_result_value(None, None) is None
