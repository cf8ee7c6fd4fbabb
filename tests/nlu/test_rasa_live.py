"""Against the real Rasa server trained from nlu/rasa_project (fixture ``rasa_server``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hub.nlu import NluResult
from nlu.client import REQUEST_TYPES, RasaNLU
from nlu.evaluate import evaluate_file
from nlu.patterns import normalise

pytestmark = pytest.mark.rasa

DEV_SET = Path(__file__).resolve().parents[2] / "nlu" / "dev" / "dev.jsonl"


@pytest.fixture
async def rasa_nlu(rasa_server: str) -> AsyncIterator[RasaNLU]:
    async with aiohttp.ClientSession() as session:
        yield RasaNLU(rasa_server, session, timeout=10.0)


async def test_consult_gas(rasa_nlu: RasaNLU) -> None:
    result = await rasa_nlu.parse("燃气开户需要带什么材料")
    assert result.type is not None and result.type.name == "consult"
    assert result.industry is not None and result.industry.name == "gas"


async def test_street_light_is_municipal(rasa_nlu: RasaNLU) -> None:
    result = await rasa_nlu.parse("我家楼下路灯坏了三天了")
    assert result.type is not None and result.type.name in {"complaint", "repair"}
    assert result.industry is not None and result.industry.name == "municipal"
    assert result.entity("address") is None


@pytest.mark.parametrize("text", ["转人工", "人工服务", "我要找客服", "喂 给我转人工"])
async def test_human_handoff(rasa_nlu: RasaNLU, text: str) -> None:
    result = await rasa_nlu.parse(text)
    assert result.intent.name == "human_handoff"
    assert result.type is None
    assert result.industry is None


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("13812345678", "phone", "13812345678"),
        ("我的手机是 139 1234 5678 谢谢", "phone", "13912345678"),
        ("联系电话：186-0000-1234。", "phone", "18600001234"),
        ("座机0571-88886666", "phone", "057188886666"),
        ("幸福路12号3单元", "address", "幸福路12号3单元"),
        ("我住在阳光花园5栋2单元302室，燃气表坏了", "address", "阳光花园5栋2单元302室"),
        ("西湖区文三路90号门口的井盖没了", "address", "西湖区文三路90号"),
    ],
)
async def test_entities(rasa_nlu: RasaNLU, text: str, entity: str, value: str) -> None:
    result = await rasa_nlu.parse(text)
    assert result.entity(entity) == value
    found = next(e for e in result.entities if e.entity == entity)
    assert normalise(entity, text[found.start : found.end]) == value


async def test_output_contract(rasa_nlu: RasaNLU) -> None:
    result = await rasa_nlu.parse("燃气泄漏 我家在幸福路12号 电话13812345678 快来")
    assert isinstance(result, NluResult)
    assert 0.0 <= result.intent.confidence <= 1.0
    assert result.type is not None and result.type.name in REQUEST_TYPES
    assert result.industry is not None and 0.0 <= result.industry.confidence <= 1.0
    assert {e.entity for e in result.entities} == {"address", "phone"}
    assert result.raw["industry_ranking"]
    json.dumps(result.to_json(), ensure_ascii=False)
    status = await rasa_nlu.status()
    assert status["status"] == "ok"
    assert str(status["model"]).endswith(".tar.gz")


async def test_dev_set_meets_the_quality_bar(rasa_server: str) -> None:
    """``rexian nlu eval nlu/dev/dev.jsonl`` against the session's server, with the issue's floors."""
    report = await evaluate_file(DEV_SET, rasa_server)
    summary = {
        "n": report["n"],
        **{label: report[label]["accuracy"] for label in ("type", "industry", "intent")},
        **{name: scores["f1"] for name, scores in report["entities"].items()},
    }
    misses = [
        f"{c['label']}: {c['expected']} -> {c['predicted']} x{c['count']} {c['examples']}" for c in report["confusions"]
    ]
    print("\nNLU dev set:", json.dumps(summary), *misses, sep="\n  ")
    assert report["n"] == 80
    assert report["type"]["accuracy"] >= 0.90
    assert report["industry"]["accuracy"] >= 0.85
    assert report["intent"]["accuracy"] >= 0.85
    assert report["entities"]["address"]["f1"] >= 0.80
    assert report["entities"]["phone"]["f1"] >= 0.95


async def test_time_and_category(rasa_nlu: RasaNLU) -> None:
    result = await rasa_nlu.parse("我家楼下路灯坏了三天了")
    assert result.category is not None and result.category.name == "municipal.streetlight"
    assert result.entity("time") == "三天"
    time_entity = next(e for e in result.raw["entities"] if e["entity"] == "time")
    assert time_entity["time"] == {"kind": "duration", "iso": "P3D", "approx": False}
