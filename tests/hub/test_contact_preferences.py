"""Agents set where a citizen's work-order notices go (POST /api/contacts/{id}/preferred-channel)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.hub import RunningHub, ScriptedNlu, running_hub


async def test_setting_the_notice_channel_needs_an_inbox_role_and_csrf(live_hub: RunningHub) -> None:
    contact = await live_hub.hub.service.store.ensure_contact_by_phone("13912345678")
    url = f"{live_hub.url}/api/contacts/{contact.id}/preferred-channel"
    async with live_hub.session.post(url, json={"channel": None}) as r:
        assert r.status == 401
    agent, _csrf = await live_hub.login("agent1", "agent123")
    async with agent, agent.post(url, json={"channel": None}) as r:
        assert r.status == 403  # no CSRF token
    kb_user, kb_csrf = await live_hub.login("kb", "kb123")
    async with kb_user, kb_user.post(url, json={"channel": None}, headers={"X-CSRF-Token": kb_csrf}) as r:
        assert r.status == 403  # knowledge managers have no inbox role


async def test_only_enabled_push_channels_are_accepted(tmp_path: Path, scripted_nlu: ScriptedNlu) -> None:
    async with running_hub(
        tmp_path / "data", nlu=scripted_nlu, telegram_token="123:abc", telegram_secret="s3cret"
    ) as hub:
        store = hub.hub.service.store
        contact = await store.ensure_contact_by_phone("13912345678")
        conversation = await store.create("web_chat", contact_id=contact.id)
        url = f"{hub.url}/api/contacts/{contact.id}/preferred-channel"
        agent, csrf = await hub.login("agent1", "agent123")
        headers = {"X-CSRF-Token": csrf}
        async with agent:
            async with agent.post(url, json={"channel": "fax"}, headers=headers) as r:
                assert r.status == 400 and (await r.json())["error"] == "unknown_channel"
            async with agent.post(url, data=b"{", headers=headers) as r:
                assert r.status == 400
            missing = f"{hub.url}/api/contacts/99999/preferred-channel"
            async with agent.post(missing, json={"channel": None}, headers=headers) as r:
                assert r.status == 404
            async with agent.post(url, json={"channel": "telegram"}, headers=headers) as r:
                assert r.status == 200 and (await r.json())["preferred_channel"] == "telegram"
            async with agent.get(f"{hub.url}/api/conversations/{conversation.id}") as r:
                detail = await r.json()
            assert detail["contact"]["preferred_channel"] == "telegram"
            assert detail["notice_channels"] == ["telegram"]
            async with agent.post(url, json={"channel": ""}, headers=headers) as r:
                assert (await r.json())["preferred_channel"] is None
        reloaded = await store.get_contact(contact.id)
        assert reloaded is not None and reloaded.preferred_channel is None
