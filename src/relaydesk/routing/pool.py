"""Agents as the router sees them, indexed so a decision never scans every agent.

Online agents sit in buckets keyed by (language, skill, level), each kept sorted by
(load, last assigned, id); the best agent for a requirement is the first that fits in the
highest-level bucket that has one. ``None`` in a key means "any" (unknown language, no skill).
The pool is a snapshot: ``decide`` only reads it; callers apply assignments with ``update``.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

EPSILON = 1e-9
"""Three chats of weight 1/3 make a load of exactly 1.0, not 1.0000000000000002."""
MAX_CAPACITY = 100

Key = tuple[float, float, int]
"""(load, last assigned, id as an integer): compared in C, no UUID methods."""
Bucket = tuple[str | None, str | None, int]


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    id: uuid.UUID
    presence: str = "online"
    languages: frozenset[str] = frozenset()
    skills: Mapping[str, int] = field(default_factory=dict)
    """Topic → level 1 … 3."""
    capacity: Mapping[str, int] = field(default_factory=dict)
    """Channel class → concurrent conversations; one of them weighs 1 / capacity."""
    load: float = 0.0
    """Sum of the weights of the agent's active and offered conversations, at most 1.0."""
    teams: frozenset[str] = frozenset()
    last_assigned: float = 0.0
    """Seconds since the epoch of the latest assignment: the longest idle goes first."""

    def weight(self, channel_class: str) -> float | None:
        capacity = self.capacity.get(channel_class, 0)
        return 1.0 / capacity if capacity > 0 else None

    def fits(self, channel_class: str) -> bool:
        weight = self.weight(channel_class)
        return weight is not None and self.load + weight <= 1.0 + EPSILON

    @property
    def key(self) -> Key:
        return (self.load, self.last_assigned, self.id.int)


class AgentPool:
    def __init__(self, agents: Iterable[AgentSnapshot] = ()) -> None:
        self.agents: dict[uuid.UUID, AgentSnapshot] = {}
        self._by_int: dict[int, AgentSnapshot] = {}
        self._buckets: dict[Bucket, list[Key]] = {}
        self._teams: dict[str, set[uuid.UUID]] = {}
        self._skills: Counter[str] = Counter()
        self._capacity: dict[str, Counter[int]] = {}
        self._ceilings: dict[str, float] = {}
        for agent in agents:
            self.put(agent)

    def __len__(self) -> int:
        return len(self.agents)

    def get(self, agent_id: uuid.UUID | None) -> AgentSnapshot | None:
        return None if agent_id is None else self.agents.get(agent_id)

    def by_key(self, key: Key) -> AgentSnapshot:
        return self._by_int[key[2]]

    @property
    def online(self) -> int:
        return sum(1 for a in self.agents.values() if a.presence == "online")

    def has_skill(self, skill: str) -> bool:
        """Some agent (in any presence) has this skill, so it can be required."""
        return self._skills[skill] > 0

    def put(self, agent: AgentSnapshot) -> None:
        """Add ``agent`` or replace the agent with the same id."""
        self.remove(agent.id)
        self.agents[agent.id] = agent
        self._by_int[agent.id.int] = agent
        for team in agent.teams:
            self._teams.setdefault(team, set()).add(agent.id)
        self._skills.update(agent.skills.keys())
        for channel_class, capacity in agent.capacity.items():
            if capacity > 0:
                self._capacity.setdefault(channel_class, Counter())[capacity] += 1
        self._ceilings.clear()
        self._index(agent)

    def remove(self, agent_id: uuid.UUID) -> None:
        agent = self.agents.pop(agent_id, None)
        if agent is None:
            return
        del self._by_int[agent_id.int]
        for team in agent.teams:
            self._teams.get(team, set()).discard(agent_id)
        self._skills.subtract(agent.skills.keys())
        for channel_class, capacity in agent.capacity.items():
            if capacity > 0:
                self._capacity[channel_class][capacity] -= 1
        self._ceilings.clear()
        self._unindex(agent)

    def update(self, agent_id: uuid.UUID, **changes: object) -> AgentSnapshot:
        """Replace some fields of an agent (load, presence, last_assigned, …) and reindex."""
        old = self.agents[agent_id]
        agent = replace(old, **changes)  # type: ignore[arg-type]
        if agent.skills != old.skills or agent.capacity != old.capacity or agent.teams != old.teams:
            self.put(agent)
            return agent
        self._unindex(old)
        self.agents[agent_id] = self._by_int[agent_id.int] = agent
        self._index(agent)
        return agent

    def _index(self, agent: AgentSnapshot) -> None:
        if agent.presence == "online":
            key = agent.key
            for bucket in _buckets(agent):
                insort(self._buckets.setdefault(bucket, []), key)

    def _unindex(self, agent: AgentSnapshot) -> None:
        if agent.presence == "online":
            key = agent.key
            for bucket in _buckets(agent):
                keys = self._buckets[bucket]
                index = bisect_right(keys, key) - 1
                if index >= 0 and keys[index] == key:
                    del keys[index]

    def ranked(self, language: str | None, skill: str | None, level: int) -> list[Key]:
        """Online agents speaking ``language`` with ``skill`` at exactly ``level`` (or, for
        no skill, everyone speaking it), lowest load first."""
        return self._buckets.get((language, skill, level if skill else 0), [])

    def load_ceiling(self, channel_class: str) -> float:
        """No agent above this load can take a conversation of this class."""
        ceiling = self._ceilings.get(channel_class)
        if ceiling is None:
            counts = self._capacity.get(channel_class) or Counter()
            largest = max((c for c, n in counts.items() if n > 0), default=0)
            ceiling = 1.0 - 1.0 / largest + EPSILON if largest else -1.0
            self._ceilings[channel_class] = ceiling
        return ceiling

    def team_members(self, team: str) -> list[AgentSnapshot]:
        return [self.agents[a] for a in sorted(self._teams.get(team, ()))]


def _buckets(agent: AgentSnapshot) -> Iterator[Bucket]:
    for language in (*agent.languages, None):
        yield (language, None, 0)
        for skill, level in agent.skills.items():
            yield (language, skill, level)
