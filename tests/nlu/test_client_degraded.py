"""RasaNLU without Rasa: mapping of a captured answer, and every way the backend can fail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.nlu import Entity, Label, NluUnavailable
from nlu.client import RasaNLU, to_result
from nlu.runtime import free_port

# A real /model/parse answer of the trained model (trimmed rankings).
CAPTURED: dict[str, Any] = {
    "text": "我住在幸福路12号3单元 电话0571-88886666 燃气泄漏",
    "intent": {"name": "repair", "confidence": 0.97},
    "entities": [
        {"entity": "address", "start": 3, "end": 12, "value": "幸福路12号3单元", "extractor": "RegexEntityExtractor"},
        {"entity": "phone", "start": 15, "end": 28, "value": "0571-88886666", "extractor": "RegexEntityExtractor"},
        {"entity": "phone", "start": 15, "end": 28, "value": "0571 88886666", "extractor": "RegexEntityExtractor"},
    ],
    "industry": {"name": "gas", "confidence": 0.91},
    "industry_ranking": [{"name": "gas", "confidence": 0.91}],
    "intent_ranking": [{"name": "repair", "confidence": 0.97}],
    "text_tokens": [[0, 1]],
}


def test_to_result_maps_the_contract() -> None:
    result = to_result(CAPTURED["text"], CAPTURED)
    assert result.intent == Label("repair", 0.97)
    assert result.type == Label("repair", 0.97)
    assert result.industry == Label("gas", 0.91)
    assert result.category == Label("gas.leak", 0.91)  # 燃气泄漏 is a gas.leak keyword
    assert result.entities == (Entity("address", "幸福路12号3单元", 3, 12), Entity("phone", "057188886666", 15, 28))
    assert result.raw is CAPTURED
    assert result.to_json()["industry"] == {"name": "gas", "confidence": 0.91}


@pytest.mark.parametrize(
    ("intent", "has_type"), [("greet", False), ("human_handoff", False), ("consult", True), ("praise", True)]
)
def test_type_only_for_request_intents(intent: str, has_type: bool) -> None:
    result = to_result("x", {"intent": {"name": intent, "confidence": 0.9}, "entities": []})
    assert (result.type is not None) is has_type
    assert result.industry is None


def test_min_confidence_drops_weak_labels() -> None:
    data = {"intent": {"name": "consult", "confidence": 0.3}, "industry": {"name": "gas", "confidence": 0.2}}
    result = to_result("x", data, min_confidence=0.5)
    assert result.intent.name == "consult"
    assert result.type is None
    assert result.industry is None


Handler = Callable[[web.Request], Any]


@pytest.fixture
async def fake_rasa() -> AsyncIterator[Callable[[Handler], Any]]:
    runners: list[web.AppRunner] = []

    async def serve(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    nlu = RasaNLU(f"http://127.0.0.1:{free_port()}", session)
    with pytest.raises(NluUnavailable, match="Client"):
        await nlu.parse("停水了")
    status = await nlu.status()
    assert status["status"] == "down"
    assert status["error"]


async def test_timeout(session: aiohttp.ClientSession, fake_rasa: Callable[[Handler], Any]) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response(CAPTURED)

    nlu = RasaNLU(await fake_rasa(slow), session, timeout=0.2)
    with pytest.raises(NluUnavailable, match="timed out"):
        await nlu.parse("停水了")
    assert (await nlu.status())["status"] == "down"


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        (b"<html>oops</html>", 200, "malformed JSON"),
        (b"[1, 2]", 200, "JSON object"),
        (b'{"text": "x"}', 200, "no intent"),
        (b'{"intent": {"name": "greet", "confidence": "high"}}', 200, "confidence"),
        (b'{"intent": {"name": "greet", "confidence": 1}, "entities": 5}', 200, "entities"),
        (b'{"error": "boom"}', 500, "HTTP 500"),
    ],
)
async def test_garbage_answers(
    session: aiohttp.ClientSession, fake_rasa: Callable[[Handler], Any], body: bytes, status: int, match: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json")

    nlu = RasaNLU(await fake_rasa(handler), session)
    with pytest.raises(NluUnavailable, match=match):
        await nlu.parse("停水了")


async def test_parse_and_status_against_fake(
    session: aiohttp.ClientSession, fake_rasa: Callable[[Handler], Any]
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/status":
            return web.json_response({"model_file": "abc.tar.gz", "num_active_training_jobs": 0})
        payload = await request.json()
        return web.json_response({**CAPTURED, "text": payload["text"]})

    url = await fake_rasa(handler)
    nlu = RasaNLU(url + "/", session)
    result = await nlu.parse("燃气泄漏")
    assert result.text == "燃气泄漏"
    assert result.entity("phone") == "057188886666"
    assert await nlu.status() == {"status": "ok", "url": url, "model": "abc.tar.gz"}


async def test_status_down_when_no_model(session: aiohttp.ClientSession, fake_rasa: Callable[[Handler], Any]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"model_file": None}), content_type="application/json")

    status = await RasaNLU(await fake_rasa(handler), session).status()
    assert status["status"] == "down"
    assert "no model" in status["error"]
