"""Consistency of the demo data in hub/demo_data (taxonomy, units, dispatch rules, accounts, KB articles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

DEMO = Path(__file__).resolve().parents[2] / "hub" / "demo_data"

INDUSTRIES = {
    "water",
    "drainage",
    "gas",
    "heating",
    "transit",
    "municipal",
    "sanitation",
    "cityscape",
    "landscaping",
    "scenic",
    "enforcement",
    "planning",
    "housing",
    "construction_market",
    "construction_safety",
}
ROLES = {"agent", "supervisor", "leader", "department", "knowledge_manager", "admin"}


def _load(name: str) -> Any:
    with (DEMO / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def taxonomy() -> dict[str, Any]:
    return _load("taxonomy.yaml")


@pytest.fixture(scope="module")
def units() -> dict[str, Any]:
    return _load("units.yaml")


@pytest.fixture(scope="module")
def articles() -> list[dict[str, Any]]:
    return _load("kb_articles.yaml")["articles"]


@pytest.fixture(scope="module")
def categories(taxonomy: dict[str, Any]) -> dict[str, str]:
    """Category code → industry code."""
    return {c["code"]: i["code"] for i in taxonomy["industries"] for c in i["categories"]}


def test_request_types(taxonomy: dict[str, Any]) -> None:
    codes = [t["code"] for t in taxonomy["request_types"]]
    assert codes == ["consult", "complaint", "repair", "suggestion", "praise"]
    for request_type in taxonomy["request_types"]:
        assert request_type["name_zh"] and request_type["name_en"]
        assert isinstance(request_type["deadline_days"], int) and request_type["deadline_days"] > 0


def test_fifteen_industries(taxonomy: dict[str, Any]) -> None:
    codes = [i["code"] for i in taxonomy["industries"]]
    assert len(codes) == 15
    assert set(codes) == INDUSTRIES


def test_categories_unique_prefixed_and_complete(taxonomy: dict[str, Any]) -> None:
    seen: set[str] = set()
    for industry in taxonomy["industries"]:
        assert 12 <= len(industry["categories"]) <= 20, industry["code"]
        for category in industry["categories"]:
            code = category["code"]
            assert code not in seen, code
            seen.add(code)
            assert code.startswith(industry["code"] + "."), code
            assert category["name_zh"] and category["name_en"], code
            assert 2 <= len(category["keywords"]) <= 6, code
            assert len(set(category["keywords"])) == len(category["keywords"]), code
            assert isinstance(category["urgent"], bool), code
            assert isinstance(category["deadline_days"], int) and category["deadline_days"] > 0, code
            if category["urgent"]:
                assert category["deadline_days"] == 1, code
    assert len(seen) >= 200


@pytest.mark.parametrize(
    "code",
    ["gas.leak", "water.pipe_burst", "water.outage", "municipal.manhole", "heating.outage", "municipal.road_collapse"],
)
def test_emergencies_are_urgent(taxonomy: dict[str, Any], code: str) -> None:
    urgent = {c["code"] for i in taxonomy["industries"] for c in i["categories"] if c["urgent"]}
    assert code in urgent


def test_units_form_a_tree(units: dict[str, Any]) -> None:
    parents = {u["code"]: u["parent"] for u in units["units"]}
    assert len(parents) == len(units["units"]), "duplicate unit codes"
    for unit in units["units"]:
        assert unit["kind"] in {"centre", "department", "sub_unit"}
        assert unit["name_zh"] and unit["name_en"]
        assert unit["parent"] is None or unit["parent"] in parents, unit["code"]
    for code in parents:
        seen = {code}
        parent = parents[code]
        while parent is not None:
            assert parent not in seen, f"cycle through {code}"
            seen.add(parent)
            parent = parents[parent]
    assert [u["code"] for u in units["units"] if u["kind"] == "centre"] == ["centre"]


def test_districts(units: dict[str, Any]) -> None:
    names = {d["name_zh"] for d in units["districts"]}
    assert names == {"城东区", "城西区", "城南区", "城北区", "高新区"}


def test_dispatch_rules_reference_existing_things(units: dict[str, Any], categories: dict[str, str]) -> None:
    unit_codes = {u["code"] for u in units["units"]}
    districts = {d["code"] for d in units["districts"]}
    for rule in units["dispatch_rules"]:
        assert rule["industry"] in INDUSTRIES, rule
        assert rule["unit"] in unit_codes, rule
        assert rule["district"] is None or rule["district"] in districts, rule
        if rule["category"] is not None:
            assert categories[rule["category"]] == rule["industry"], rule


def test_every_industry_has_a_final_fallback_rule(units: dict[str, Any]) -> None:
    rules = units["dispatch_rules"]
    for industry in INDUSTRIES:
        own = [r for r in rules if r["industry"] == industry]
        fallbacks = [r for r in own if r["category"] is None and r["district"] is None]
        assert len(fallbacks) == 1, industry
        assert own[-1] is fallbacks[0], f"{industry}: the fallback must come after the specific rules"


def test_accounts(units: dict[str, Any]) -> None:
    users = _load("accounts.yaml")["users"]
    unit_codes = {u["code"] for u in units["units"]}
    assert {u["role"] for u in users} == ROLES
    assert len({u["username"] for u in users}) == len(users)
    assert {"agent1", "agent2"} <= {u["username"] for u in users}
    for user in users:
        assert user["unit"] in unit_codes, user
        assert user["password"] and user["display_name"]


def test_articles_reference_existing_things(
    articles: list[dict[str, Any]], categories: dict[str, str], units: dict[str, Any]
) -> None:
    unit_codes = {u["code"] for u in units["units"]}
    assert len(articles) >= 30
    assert len({a["id"] for a in articles}) == len(articles)
    for article in articles:
        assert article["industry"] in INDUSTRIES, article["id"]
        assert categories[article["category"]] == article["industry"], article["id"]
        assert article["unit"] in unit_codes, article["id"]


def test_articles_are_complete(articles: list[dict[str, Any]]) -> None:
    questions: set[str] = set()
    for article in articles:
        assert article["question"] and article["answer"].strip() and article["tags"], article["id"]
        assert 3 <= len(article["similar_questions"]) <= 6, article["id"]
        assert len(article["spoken_answer"]) <= 60, article["id"]
        for question in (article["question"], *article["similar_questions"]):
            assert question not in questions, question
            questions.add(question)
