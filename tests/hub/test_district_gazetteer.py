"""Addresses normalised to the configured city's districts: names with and without 区, aliases, the gazetteer of
streets/towns/villages/compounds (hub/demo_data/units.yaml, table ``districts``), addresses in other cities, and
the dispatch target the desk derives from it on a demo hub."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.storage.engine import create_engine, sqlite_url
from hub.storage.taxonomy import load_taxonomy
from hub.storage.users import UserStore
from hub.taxonomy import District, Named, Taxonomy
from nlu.evaluate import Prediction, demo_district_detector, evaluate_predictions
from rexian.demo import load_demo
from rexian.schema import migrate
from tests.fixtures.hub import RunningHub
from tests.hub.test_registration import STREETLIGHT, desk_of, user

CITY = Taxonomy(
    districts={
        "chengdong": District(
            "chengdong", "城东区", "Chengdong District", aliases=("城东",), streets=("振兴路", "王庄镇", "阳光花园")
        ),
        "chengbei": District("chengbei", "城北区", "Chengbei District", streets=("张家村", "北辰路")),
        "gaoxin": District(
            "gaoxin", "高新区", "Gaoxin District", aliases=("高新技术产业开发区",), streets=("软件园", "科技大道")
        ),
    }
)


@pytest.mark.parametrize(
    ("address", "district"),
    [
        # the district named: full name, without 区, alias, English name, ASR spaces, a local city prefix
        ("城东区幸福路12号", "chengdong"),
        ("城东幸福路12号", "chengdong"),
        ("城东 区 幸福路 十二号", "chengdong"),
        ("高新技术产业开发区创新路8号", "gaoxin"),
        ("Chengbei District, 8 Beichen Rd", "chengbei"),
        ("江城市城北区人民路5号", "chengbei"),
        # a district named wins over a street listed under another district
        ("城北区振兴路8号", "chengbei"),
        # the gazetteer: roads, towns, villages, compounds without the district prefix
        ("振兴路8号院2号楼", "chengdong"),
        ("阳光花园三期5栋2单元1502室", "chengdong"),
        ("北辰路与人民路交叉口东北角", "chengbei"),
        ("科技大道66号天悦华庭2期5栋", "gaoxin"),
        # the leftmost (highest-level) listed place wins: 王庄镇 (城东) before 张家村 (城北)
        ("王庄镇张家村二组", "chengdong"),
        ("张家村二组", "chengbei"),
        # a message holding the address (the knowledge base looks for outage districts in whole texts)
        ("你好，振兴路8号门口的井盖没了", "chengdong"),
        ("我住在幸福小区，振兴路那边停水了", "chengdong"),
        # addresses in other cities or districts are not local, even on a street of the same name
        ("杭州市上城区钱江路1381号", None),
        ("杭州市上城区振兴路8号", None),
        ("河北省保定市清苑区王庄镇张家村二组", None),
        ("杭州市西湖区文三路90号东部软件园3号楼", None),
        ("杭州市振兴路8号", None),
        # nothing known
        ("人民路5号", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_district(address: str | None, district: str | None) -> None:
    assert CITY.detect_district(address) == district


def test_districts_without_a_gazetteer_still_match_by_name() -> None:
    """Backwards compatible: a plain Named district (no aliases/streets) matches by its name as before."""
    plain = Taxonomy(districts={"chengxi": Named("chengxi", "城西区", "Chengxi District")})  # type: ignore[dict-item]
    assert plain.detect_district("城西区长江路8号") == "chengxi"
    assert plain.detect_district("城西长江路8号") == "chengxi"
    assert plain.detect_district("长江路8号") is None


def test_the_demo_gazetteer_used_by_nlu_eval() -> None:
    detect = demo_district_detector()
    assert detect("城东区阳光花园三期5栋") == "chengdong"
    assert detect("和平街15号") == "chengxi"
    assert detect("迎宾大道120号") == "chengnan"
    assert detect("北辰小区12栋3单元501室") == "chengbei"
    assert detect("创业路与学府路十字东北角") == "gaoxin"
    assert detect("上海市浦东新区张江镇碧波路690号") is None


async def test_the_gazetteer_is_stored_and_loaded(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        await migrate(engine)
        assert await load_demo(engine, UserStore(engine))
        tax = await load_taxonomy(engine)
        east = tax.districts["chengdong"]
        assert isinstance(east, District) and "城东" in east.aliases and "振兴路" in east.streets
        assert tax.detect_district("振兴路8号") == "chengdong"
        assert tax.detect_district("杭州市上城区钱江路1381号") is None
    finally:
        await engine.dispose()


async def test_districts_stored_before_the_gazetteer_still_load(tmp_path: Path) -> None:
    """A database with districts from before migration 0013 upgrades; its rows load with an empty gazetteer."""
    engine = create_engine(sqlite_url(tmp_path))
    try:
        await migrate(engine, "0012_quick_replies")
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO districts (code, name_zh, name_en) VALUES ('x', '新城区', 'X')"))
        await migrate(engine)
        tax = await load_taxonomy(engine)
        assert tax.districts["x"] == District("x", "新城区", "X")
        assert tax.detect_district("新城区解放路1号") == "x"
    finally:
        await engine.dispose()


async def test_the_desk_dispatches_by_the_district_the_gazetteer_finds(live_hub: RunningHub) -> None:
    """Water orders go to the district's branch company: the address names no district, the gazetteer tells it."""
    desk, agent = desk_of(live_hub), await user(live_hub)
    water = replace(STREETLIGHT, industry="water", category=None, description="停水了")
    east = await desk.preview(replace(water, address="振兴路8号院2号楼"), agent)
    assert (east.district, east.unit) == ("chengdong", "water_group.east")
    west = await desk.preview(replace(water, address="锦绣花园12栋1单元802室"), agent)
    assert (west.district, west.unit) == ("chengxi", "water_group.west")
    elsewhere = await desk.preview(replace(water, address="杭州市上城区钱江路1381号"), agent)
    assert (elsewhere.district, elsewhere.unit) == (None, "water_group")


def test_nlu_eval_scores_the_district_of_the_first_predicted_address() -> None:
    rows: list[dict[str, Any]] = [
        {"text": "a", "district": "chengdong"},
        {"text": "b", "district": "城西区"},  # a Chinese name is accepted as the label
        {"text": "c", "district": None},
        {"text": "d", "district": "chengbei"},  # no address predicted: wrong
        {"text": "e"},  # not labelled: not scored
    ]
    predictions = [
        Prediction({}, [("phone", "13800000000"), ("address", "振兴路8号"), ("address", "和平街1号")]),
        Prediction({}, [("address", "和平街15号")]),
        Prediction({}, [("address", "杭州市上城区钱江路1381号")]),
        Prediction({}, []),
        Prediction({}, [("address", "振兴路8号")]),
    ]
    report = evaluate_predictions(rows, predictions)
    assert report["district"] == {"accuracy": 0.75, "n": 4}
    assert "district" not in evaluate_predictions(rows[4:], predictions[4:])
