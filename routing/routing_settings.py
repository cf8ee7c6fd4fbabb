"""How the routing engine is configured: queues, capacity and agent-status policy, from defaults or a TOML file.

A queue named by an IVR flow or a transfer but not configured is created from the ``[defaults]`` template, so a
new flow never strands a caller. The file (``--routing-config``, see ``docs/routing.md``)::

    [defaults]                 # every queue's template
    strategy = "longest_idle"
    offer_timeout_s = 20
    wrap_up_s = { voice = 10 }
    sl_target_s = { voice = 15, web_chat = 30 }

    [queues.gas]               # one queue; keys as in [defaults] plus skills = { "industry:gas" = 1 }
    strategy = "skills"

    [policy]
    capacity = 3
    text_weight = { email = 1 }
    max_missed_offers = 2
    break_reasons = ["rest", "training", "meeting", "meal"]

    [floor]
    sl_threshold_s = 15        # GB/T 33358: phone answered within 15 s
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing.engine import CapacityPolicy, QueueConfig, Strategy

DEFAULT_QUEUE = "general"
DEFAULT_SL_TARGETS: Mapping[str, float] = {
    "voice": 15.0,
    "web_chat": 30.0,
    "telegram": 60.0,
    "rest": 60.0,
    "sms": 300.0,
    "email": 3600.0,
    "voicemail": 3600.0,
}
DEFAULT_BREAK_REASONS = ("rest", "training", "meeting", "meal")
VOICEMAIL = "voicemail"
"""The routing channel of a voicemail waiting for an agent (text-like: it takes a share, never rings)."""


class RoutingConfigError(ValueError):
    """The routing configuration file is malformed (the message names the key)."""


def default_template() -> QueueConfig:
    """The queue template used when nothing is configured."""
    return QueueConfig(
        DEFAULT_QUEUE,
        sl_target_s=dict(DEFAULT_SL_TARGETS),
        default_sl_target_s=60.0,
        wrap_up_s={"voice": 10.0},
        max_wait_s=300.0,
    )


@dataclass(frozen=True)
class RoutingSettings:
    """Queues (by name), the template for unnamed ones, the capacity policy and the floor's threshold."""

    template: QueueConfig = field(default_factory=default_template)
    queues: Mapping[str, QueueConfig] = field(default_factory=dict)
    policy: CapacityPolicy = field(
        default_factory=lambda: CapacityPolicy(break_reasons=frozenset(DEFAULT_BREAK_REASONS))
    )
    break_reasons: tuple[str, ...] = DEFAULT_BREAK_REASONS  # in the order the inbox offers them
    text_queue: str = DEFAULT_QUEUE  # where text conversations handed to a human wait
    sl_threshold_s: float = 15.0
    announce_text: bool = True  # tell chat, SMS and Telegram citizens their position and estimated wait

    def queue(self, name: str) -> QueueConfig:
        """The configuration of queue ``name`` (the template, renamed, if it is not configured)."""
        configured = self.queues.get(name)
        return configured if configured is not None else dataclasses.replace(self.template, name=name)

    def all_queues(self) -> list[QueueConfig]:
        """The configured queues plus the text queue (each once)."""
        names = dict.fromkeys([self.text_queue, *self.queues])
        return [self.queue(n) for n in names]

    def with_voice(self, *, offer_timeout_s: float, max_wait_s: float) -> RoutingSettings:
        """These settings with the voice channel's ring time and maximum wait in the template (``--agent-ring``)."""
        template = dataclasses.replace(self.template, offer_timeout_s=offer_timeout_s, max_wait_s=max_wait_s)
        return dataclasses.replace(self, template=template)

    @classmethod
    def load(cls, path: Path) -> RoutingSettings:
        """Read a routing configuration file (raises :class:`RoutingConfigError` naming the bad key)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RoutingConfigError(f"{path}: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RoutingSettings:
        """Build settings from parsed TOML."""
        base = default_template()
        template = _queue(base, data.get("defaults", {}), "defaults")
        queues = {
            name: _queue(dataclasses.replace(template, name=name), spec, f"queues.{name}")
            for name, spec in _table(data, "queues").items()
        }
        policy_spec = _table(data, "policy")
        reasons = tuple(policy_spec.get("break_reasons", DEFAULT_BREAK_REASONS))
        if not reasons or not all(isinstance(r, str) and r and r != "no_answer" for r in reasons):
            raise RoutingConfigError("policy.break_reasons: a list of reason codes (not no_answer)")
        try:
            policy = CapacityPolicy(
                capacity=int(policy_spec.get("capacity", 3)),
                text_weight={str(k): int(v) for k, v in policy_spec.get("text_weight", {}).items()},
                default_text_weight=int(policy_spec.get("default_text_weight", 1)),
                max_missed_offers=int(policy_spec.get("max_missed_offers", 2)),
                break_reasons=frozenset(reasons),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise RoutingConfigError(f"policy: {exc}") from exc
        if policy.capacity < 1 or policy.max_missed_offers < 1:
            raise RoutingConfigError("policy: capacity and max_missed_offers must be at least 1")
        floor = _table(data, "floor")
        return cls(
            template=template,
            queues=queues,
            policy=policy,
            break_reasons=reasons,
            text_queue=str(data.get("text_queue", DEFAULT_QUEUE)),
            sl_threshold_s=float(floor.get("sl_threshold_s", 15.0)),
            announce_text=bool(data.get("announce_text", True)),
        )


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise RoutingConfigError(f"{key}: expected a table")
    return value


_FLOATS = ("default_sl_target_s", "offer_timeout_s", "last_agent_days", "default_aht_s")
_BOOLS = ("auto_accept", "allow_pick", "call_while_chatting")


def _queue(base: QueueConfig, spec: Mapping[str, Any], where: str) -> QueueConfig:
    if not isinstance(spec, Mapping):
        raise RoutingConfigError(f"{where}: expected a table")
    changes: dict[str, Any] = {}
    try:
        for key, value in spec.items():
            if key in ("strategy", "fallback"):
                changes[key] = Strategy(value)
            elif key in _FLOATS:
                changes[key] = float(value)
            elif key in _BOOLS:
                if not isinstance(value, bool):
                    raise ValueError("expected true or false")
                changes[key] = value
            elif key == "max_wait_s":
                changes[key] = None if value in (0, False) else float(value)
            elif key in ("sl_target_s", "wrap_up_s"):
                changes[key] = {**getattr(base, key), **{str(k): float(v) for k, v in value.items()}}
            elif key == "skills":
                changes[key] = {str(k): int(v) for k, v in value.items()}
            elif key == "overflow_channels":
                changes[key] = frozenset(str(c) for c in value)
            else:
                raise ValueError("unknown key")
    except (TypeError, ValueError, AttributeError) as exc:
        raise RoutingConfigError(f"{where}.{key}: {exc}") from exc
    return dataclasses.replace(base, **changes)
