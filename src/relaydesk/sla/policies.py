"""Pure SLA maths: which policy applies to a journey, and its clocks from its history.

Policies are tried in file order and the **first** whose ``match`` fits wins (put narrow
policies such as complaints first and a catch-all last). Clocks are recomputed from the
journey's facts every time, never incremented, so replaying an event changes nothing:

- ``first_response``: from the journey's start to the first reply by a person.
- ``next_response``: from the customer's first message after a person's reply to the next
  reply by a person (each such cycle starts the clock again).
- ``resolution``: from the journey's start to its resolution.

Response clocks measure how long the customer waits for a person, so they pause while the
bot holds the journey; every clock pauses while the journey waits on the customer (until
they write, or the journey is set waiting on the company) and while
it is resolved (a reopened journey continues the clocks where they stopped). Resolving a
journey also ends its open response clocks (met at the resolution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from relaydesk.sla.calendar import BusinessCalendar, Pause, add_business_time, business_time_between
from relaydesk.sla.schemas import PolicySpec, SlaConfig


@dataclass(frozen=True)
class JourneyFacts:
    """What policy matching looks at."""

    priority: str = "normal"
    channel: str | None = None
    intent: str | None = None
    intent_signals: frozenset[str] = frozenset()
    tier: str | None = None
    value: float = 0.0
    teams: tuple[str, ...] = ()
    """The journey's team (queued for a team) or its agent's teams, in that order."""


def choose_policy(config: SlaConfig, facts: JourneyFacts) -> PolicySpec | None:
    """The first policy whose match fits, or None (no clocks)."""
    for policy in config.policies:
        m = policy.match
        if m.priorities and facts.priority not in m.priorities:
            continue
        if m.channels and facts.channel not in m.channels:
            continue
        if m.intents and not ({facts.intent} | facts.intent_signals) & set(m.intents):
            continue
        if m.tiers and (facts.tier or "").lower() not in m.tiers:
            continue
        if m.min_value is not None and facts.value < m.min_value:
            continue
        return policy
    return None


def calendar_for(config: SlaConfig, policy: PolicySpec, facts: JourneyFacts) -> str | None:
    """The policy's calendar, else the journey's team's, else the default (None: 24/7)."""
    if policy.calendar is not None:
        return policy.calendar
    for team in facts.teams:
        name = config.team_calendar(team)
        if name is not None:
            return name
    return config.default_calendar


@dataclass(frozen=True)
class Happening:
    """One fact of a journey's history, in time order."""

    at: datetime
    kind: str
    """inbound | reply (by a person) | waiting | pending (waiting on the company) | resolved |
    reopened | owner:<new owner>"""


@dataclass(frozen=True)
class ClockState:
    kind: str
    started_at: datetime
    target: timedelta
    due_at: datetime | None
    met_at: datetime | None
    paused: bool
    remaining: timedelta | None
    breached: bool
    """Met late, or (open) past due at the time of the last pause."""
    closed_pauses: tuple[Pause, ...] = field(default=(), repr=False)

    def at_share(self, share: float, calendar: BusinessCalendar) -> datetime:
        """When ``share`` of the target has passed (for warnings)."""
        return add_business_time(
            self.started_at, self.target * share, calendar, pauses=self.closed_pauses
        )


@dataclass
class _Intervals:
    closed: list[Pause] = field(default_factory=list)
    open_since: datetime | None = None

    def start(self, at: datetime) -> None:
        if self.open_since is None:
            self.open_since = at

    def end(self, at: datetime) -> None:
        if self.open_since is not None:
            if at > self.open_since:
                self.closed.append((self.open_since, at))
            self.open_since = None


def _pauses(history: Sequence[Happening]) -> tuple[_Intervals, _Intervals, _Intervals]:
    """Waiting on the customer, with the bot, and resolved."""
    waiting, bot, resolved = _Intervals(), _Intervals(), _Intervals()
    for h in history:
        if h.kind == "waiting":
            waiting.start(h.at)
        elif h.kind in ("inbound", "pending"):  # the customer wrote, or the company owes
            waiting.end(h.at)
        elif h.kind == "resolved":
            waiting.end(h.at)
            resolved.start(h.at)
        elif h.kind == "reopened":
            resolved.end(h.at)
        elif h.kind.startswith("owner:"):
            if h.kind == "owner:bot":
                bot.start(h.at)
            else:
                bot.end(h.at)
    return waiting, bot, resolved


def _clock(
    kind: str,
    start: datetime,
    target: timedelta,
    met_at: datetime | None,
    parts: Sequence[_Intervals],
    calendar: BusinessCalendar,
) -> ClockState:
    closed = tuple(p for part in parts for p in part.closed)
    due = add_business_time(start, target, calendar, pauses=closed)
    if met_at is not None:
        return ClockState(kind, start, target, due, met_at, False, None, met_at > due, closed)
    opens = [p.open_since for p in parts if p.open_since is not None]
    if opens:
        paused_at = max(min(opens), start)
        if due <= paused_at:
            return ClockState(kind, start, target, due, None, False, None, True, closed)
        used = business_time_between(start, paused_at, calendar, pauses=closed)
        left = max(timedelta(0), target - used)
        return ClockState(kind, start, target, None, None, True, left, False, closed)
    return ClockState(kind, start, target, due, None, False, None, False, closed)


def compute_clocks(
    policy: PolicySpec,
    calendar: BusinessCalendar,
    started_at: datetime,
    history: Sequence[Happening],
) -> list[ClockState]:
    """The journey's clocks under ``policy``; ``history`` in time order."""
    history = sorted(history, key=lambda h: h.at)
    waiting, bot, resolved = _pauses(history)
    resolved_at = resolved.open_since
    states = []
    replies = [h.at for h in history if h.kind == "reply"]
    first_target = policy.target("first_response")
    if first_target is not None:
        first = next((r for r in replies if r >= started_at), None)
        met = first if first is not None else resolved_at
        states.append(
            _clock(
                "first_response", started_at, first_target, met, (waiting, bot, resolved), calendar
            )
        )
    next_target = policy.target("next_response")
    if next_target is not None:
        cycle = _last_cycle(history)
        if cycle is not None:
            start, met = cycle
            if met is None:
                met = resolved_at
            states.append(
                _clock("next_response", start, next_target, met, (waiting, bot, resolved), calendar)
            )
    resolution_target = policy.target("resolution")
    if resolution_target is not None:
        states.append(
            _clock(
                "resolution",
                started_at,
                resolution_target,
                resolved_at,
                (waiting, resolved),
                calendar,
            )
        )
    return states


def _last_cycle(history: Sequence[Happening]) -> tuple[datetime, datetime | None] | None:
    """The latest (customer message after a person's reply, the next reply by a person)."""
    replied = False
    cycle: tuple[datetime, datetime | None] | None = None
    for h in history:
        if h.kind == "reply":
            if cycle is not None and cycle[1] is None:
                cycle = (cycle[0], h.at)
            replied = True
        elif h.kind == "inbound" and replied and (cycle is None or cycle[1] is not None):
            cycle = (h.at, None)
    return cycle
