"""The router's items, indexed for dispatch and position: one sorted list per group of interchangeable items.

A *group* is every item of one queue, one channel and the same item skills. Within a group every agent is eligible
for all items or for none (eligibility depends on the queue, on calls needing a softphone, and on the queue's
skills merged with the item's), every item takes the same slots from a given agent, and the service order
(:func:`~routing.engine.items.service_key`: priority, then ``-(now - enqueued_at) / target``, then arrival) never
changes over time: the target is the group's, and the middle term is non-decreasing in ``enqueued_at`` whatever
``now`` is (a subtraction and a division by the same positive number are monotonic in IEEE arithmetic). So a
group is kept sorted by ``(-priority, enqueued_at, seq)`` once, on insertion, and at any ``now`` it is in service
order except inside a run of items whose middle terms round to the same float, where the key falls back to
``seq`` (possible only when ``enqueued_at`` values lie a few ULPs apart and arrival disagrees with them, as when
waiting conversations are restored with their old times): :func:`in_order` and :func:`count_before` resolve
such runs, so both answer exactly what sorting every item by ``service_key`` would.

The dispatch merges the groups' heads (a heap of a few dozen entries instead of a sort of every waiting item) and
drops a group as soon as no free agent is eligible for it; the position counts with a binary search per group.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Collection, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any, Self

from routing.engine.agents import Agent
from routing.engine.items import WorkItem
from routing.engine.queues import QueueConfig
from routing.engine.strategies import required_skills

Entry = tuple[int, float, int, WorkItem]
"""``(-priority, enqueued_at, seq, item)``: a group's sort key and its item (``seq`` is unique)."""

SkillKey = tuple[tuple[str, int], ...]
"""An item's own skills, sorted."""

GroupKey = tuple[str, str, SkillKey]
"""``(queue, channel, the item's own skills)``."""

Key = tuple[int, float, int]
"""The item's :func:`~routing.engine.items.service_key` at some ``now``."""

_seq = itemgetter(2)


def group_of(item: WorkItem) -> GroupKey:
    """The group ``item`` belongs to."""
    return item.queue, item.channel, tuple(sorted(item.skills.items()))


class WaitingItems(dict[str, WorkItem]):
    """The router's ``items`` (item id → waiting or offered item): a dict that also keeps :attr:`groups` current.

    Every mutation goes through ``__setitem__`` / ``__delitem__`` (``pop``, ``popitem``, ``clear``, ``setdefault``,
    ``update`` and ``|=`` do too). An item's queue, channel, priority, skills, ``enqueued_at`` and ``seq`` must not
    change while it is in here (the router replaces an item that moves, as a transfer does).
    """

    def __init__(self, items: Iterable[tuple[str, WorkItem]] = ()) -> None:
        super().__init__()
        self.groups: dict[GroupKey, list[Entry]] = {}
        self._where: dict[str, tuple[GroupKey, Entry]] = {}
        for item_id, item in items:
            self[item_id] = item

    def __setitem__(self, item_id: str, item: WorkItem) -> None:
        if item_id in self:
            self._unindex(item_id)
        super().__setitem__(item_id, item)
        group = group_of(item)
        entry: Entry = (-item.priority, item.enqueued_at, item.seq, item)
        insort(self.groups.setdefault(group, []), entry)
        self._where[item_id] = (group, entry)

    def __delitem__(self, item_id: str) -> None:
        super().__delitem__(item_id)
        self._unindex(item_id)

    def _unindex(self, item_id: str) -> None:
        group, entry = self._where.pop(item_id)
        entries = self.groups[group]
        index = bisect_left(entries, entry)
        assert entries[index] is entry, "an indexed item changed while waiting"
        del entries[index]
        if not entries:
            del self.groups[group]

    def pop(self, item_id: str, *default: Any) -> Any:
        if item_id not in self:
            if default:
                return default[0]
            raise KeyError(item_id)
        item = self[item_id]
        del self[item_id]
        return item

    def popitem(self) -> tuple[str, WorkItem]:
        item_id, item = super().popitem()
        self._unindex(item_id)
        return item_id, item

    def clear(self) -> None:
        super().clear()
        self.groups.clear()
        self._where.clear()

    def setdefault(self, item_id: str, default: WorkItem) -> WorkItem:
        if item_id not in self:
            self[item_id] = default
        return self[item_id]

    def update(self, *args: Any, **kwargs: WorkItem) -> None:
        for item_id, item in dict(*args, **kwargs).items():
            self[item_id] = item

    def __ior__(self, other: Mapping[str, WorkItem]) -> Self:  # type: ignore[override,misc]  # dict's is overloaded
        self.update(other)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (list(self.items()),))


class FreeAgents:
    """The agents one dispatch may still give items to, by id and by queue served (taken and held ones leave).

    Args:
        agents: the agents free at the start (available, no pending offer, no wrap-up, no call).
    """

    __slots__ = ("_by_id", "_by_queue")

    def __init__(self, agents: Iterable[Agent]) -> None:
        self._by_id = {a.id: a for a in agents}
        self._by_queue: dict[str, dict[int, Agent]] = {}
        for agent in self._by_id.values():
            for name in agent.queues:
                self._by_queue.setdefault(name, {})[agent.id] = agent

    def __bool__(self) -> bool:
        return bool(self._by_id)

    def __contains__(self, agent_id: int) -> bool:
        return agent_id in self._by_id

    def serving(self, queue: str) -> Collection[Agent]:
        """The free agents who serve ``queue``."""
        by_id = self._by_queue.get(queue)
        return by_id.values() if by_id else ()

    def remove(self, agent: Agent) -> None:
        """``agent`` was taken (offered, or full) or held for an item: no further item this dispatch."""
        del self._by_id[agent.id]
        for name in agent.queues:
            del self._by_queue[name][agent.id]


def group_eligible(agents: Iterable[Agent], item: WorkItem, queue: QueueConfig) -> list[Agent]:
    """The ``agents`` (who serve the item's queue) eligible for every item of ``item``'s group.

    The same answer as :func:`~routing.engine.capacity.eligible` for each agent, with the required skills merged
    once for the group instead of once per agent.
    """
    required = required_skills(queue, item)
    voice = item.is_voice
    return [a for a in agents if item.queue in a.queues and (a.registered or not voice) and a.has_skills(required)]


class Group:
    """One group during one dispatch: its entries, its SL target, who is eligible, and where the merge is.

    Args:
        key: the group's key.
        entries: the group's live entries (they change while the dispatch assigns items).
        target: the group's SL target.
    """

    __slots__ = ("_order", "eligible", "entries", "key", "target")

    def __init__(self, key: GroupKey, entries: list[Entry], target: float) -> None:
        self.key = key
        self.entries = entries
        self.target = target
        self.eligible: list[Agent] | None = None
        self._order: Iterator[tuple[Key, WorkItem]] | None = None

    def following(self, now: float) -> tuple[Key, WorkItem] | None:
        """The next item to serve after the one just offered or assigned (None: the group is done).

        The first call orders a copy of the entries as they are then (the served item assigned and gone, or
        offered and skipped); no other item of the group changes during the dispatch.
        """
        if self._order is None:
            self._order = in_order(self.entries[:], now, self.target)
        return next(self._order, None)


def head(entries: list[Entry], now: float, target: float) -> tuple[Key, WorkItem] | None:
    """What :func:`in_order` would yield first, without building it in the common case."""
    negative_priority, enqueued_at, seq, item = entries[0]
    if not item.offers:
        wait = -(now - enqueued_at) / target
        if len(entries) == 1 or entries[1][0] != negative_priority or -(now - entries[1][1]) / target != wait:
            return (negative_priority, wait, seq), item
    return next(in_order(entries, now, target), None)


def in_order(entries: list[Entry], now: float, target: float) -> Iterator[tuple[Key, WorkItem]]:
    """A group's items without a pending offer, in service order at ``now``, each with its service key.

    Args:
        entries: the group's entries (a copy if the group may change while the iterator is used).
        now: the dispatch's time.
        target: the group's SL target (seconds).
    """
    count = len(entries)
    if not count:
        return
    start = 0
    wait = -(now - entries[0][1]) / target
    while start < count:
        negative_priority = entries[start][0]
        end, next_wait = start + 1, wait
        while end < count:
            next_wait = -(now - entries[end][1]) / target
            if entries[end][0] != negative_priority or next_wait != wait:
                break
            end += 1
        run = entries[start:end] if end - start == 1 else sorted(entries[start:end], key=_seq)
        for _, _, seq, item in run:
            if not item.offers:
                yield (negative_priority, wait, seq), item
        start, wait = end, next_wait


def count_before(entries: list[Entry], key: Key, now: float, target: float) -> int:
    """How many of a group's items come before an item whose service key at ``now`` is ``key``.

    Args:
        entries: the group's entries.
        key: the other item's :func:`~routing.engine.items.service_key` at ``now``.
        now: the time of the question.
        target: the group's SL target (seconds).
    """
    negative_priority, wait, seq = key
    index = bisect_left(entries, (negative_priority, wait), key=lambda e: (e[0], -(now - e[1]) / target))
    count = index
    while index < len(entries):
        entry = entries[index]
        if entry[0] != negative_priority or -(now - entry[1]) / target != wait:
            break
        count += entry[2] < seq
        index += 1
    return count
