"""The routing configuration: defaults, the template for unnamed queues, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.engine import Strategy
from routing.routing_settings import RoutingConfigError, RoutingSettings


def test_defaults_give_one_queue_for_every_channel_with_the_phone_targets() -> None:
    settings = RoutingSettings()
    [general] = settings.all_queues()
    assert general.name == "general" and general.sl_target("voice") == 15 and general.max_wait("voice") == 300
    assert general.max_wait("web_chat") is None and general.wrap_up("voice") == 10
    assert settings.policy.break_reasons == {"rest", "training", "meeting", "meal"}


def test_an_unnamed_queue_is_made_from_the_template_and_voice_settings_fill_it() -> None:
    settings = RoutingSettings.from_mapping({"defaults": {"strategy": "round_robin", "wrap_up_s": {"web_chat": 5}}})
    settings = settings.with_voice(offer_timeout_s=12, max_wait_s=90)
    queue = settings.queue("from_an_ivr_flow")
    assert queue.name == "from_an_ivr_flow" and queue.strategy is Strategy.ROUND_ROBIN
    assert queue.offer_timeout_s == 12 and queue.max_wait_s == 90
    assert queue.wrap_up("voice") == 10 and queue.wrap_up("web_chat") == 5  # merged over the defaults


def test_a_file_with_named_queues_policy_and_floor(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(
        """
text_queue = "web"
[queues.gas]
strategy = "skills"
skills = { "industry:gas" = 2 }
max_wait_s = 0
[queues.web]
auto_accept = false
[policy]
capacity = 4
text_weight = { email = 2 }
break_reasons = ["rest", "prayer"]
[floor]
sl_threshold_s = 20
""",
        encoding="utf-8",
    )
    settings = RoutingSettings.load(path)
    assert [q.name for q in settings.all_queues()] == ["web", "gas"]
    assert settings.queue("gas").skills == {"industry:gas": 2} and settings.queue("gas").max_wait_s is None
    assert settings.queue("web").auto_accept is False
    assert settings.policy.capacity == 4 and settings.policy.text_weight == {"email": 2}
    assert settings.break_reasons == ("rest", "prayer") and settings.sl_threshold_s == 20


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"defaults": {"strategy": "fastest"}}, "defaults.strategy"),
        ({"queues": {"gas": {"colour": "blue"}}}, "queues.gas.colour"),
        ({"queues": {"gas": {"auto_accept": "yes"}}}, "queues.gas.auto_accept"),
        ({"policy": {"capacity": 0}}, "policy"),
        ({"policy": {"break_reasons": ["no_answer"]}}, "policy.break_reasons"),
        ({"queues": ["gas"]}, "queues"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(RoutingConfigError, match=named.replace(".", r"\.")):
        RoutingSettings.from_mapping(data)


def test_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text("[defaults\n", encoding="utf-8")
    with pytest.raises(RoutingConfigError, match=r"routing\.toml"):
        RoutingSettings.load(path)
