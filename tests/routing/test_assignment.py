"""decide(): the best agent, capacity, continuity, relaxation, and the index vs a full scan."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from relaydesk.routing.assignment import (
    JourneySnapshot,
    Requirement,
    best_agent,
    decide,
    requirement,
)
from relaydesk.routing.pool import EPSILON, AgentPool, AgentSnapshot
from relaydesk.routing.schemas import POLICIES, Override, RoutingConfig
from relaydesk.routing.value import CustomerValue, Signals

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONFIG = RoutingConfig(currency="EUR")
COMPLAINT = Signals(intent="complaint", intent_signals=frozenset({"complaint", "churn_risk"}))


def agent(n: int, **kw: object) -> AgentSnapshot:
    base = AgentSnapshot(
        uuid.UUID(int=n),
        languages=frozenset({"en"}),
        capacity={"voice": 1, "chat": 3, "messaging": 4, "email": 5},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def journey(**kw: object) -> JourneySnapshot:
    base = JourneySnapshot(
        uuid.uuid4(),
        channel="web",
        channel_class="chat",
        language="en",
        signals=COMPLAINT,
        customer=CustomerValue(lifetime_value=3600),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_expert_first_then_lowest_load_then_longest_idle() -> None:
    pool = AgentPool(
        [
            agent(1, skills={"complaint": 1}),
            agent(2, skills={"complaint": 3}, load=0.5),
            agent(3, skills={"complaint": 3}, load=0.25, last_assigned=50.0),
            agent(4, skills={"complaint": 3}, load=0.25, last_assigned=10.0),
        ]
    )
    d = decide(journey(), pool, NOW, CONFIG)
    assert (d.target, d.agent_id) == ("agent", uuid.UUID(int=4))
    assert d.reason == "value_above_threshold"
    assert "agent chosen: best match for language en, complaint ≥ level 1" in d.explanation
    assert d.inputs(journey())["requirement"] == {
        "language": "en",
        "skill": "complaint",
        "level": 1,
    }


def test_language_presence_capacity_and_exclusions() -> None:
    pool = AgentPool(
        [
            agent(1, languages=frozenset({"sv"})),
            agent(2, presence="away"),
            agent(3, load=0.8),  # a chat weighs 1/3
            agent(4, capacity={"chat": 0, "email": 5}),
            agent(5, load=0.1),
        ]
    )
    j = journey()
    assert decide(j, pool, NOW, CONFIG).agent_id == uuid.UUID(int=5)
    blocked = replace(j, excluded_agents=frozenset({uuid.UUID(int=5)}))
    d = decide(blocked, pool, NOW, CONFIG)
    assert (d.target, d.agent_id) == ("queue", None)
    assert d.explanation.endswith("waiting for language en, any skill")
    email = replace(blocked, channel_class="email")
    assert decide(email, pool, NOW, CONFIG).agent_id == uuid.UUID(int=4)


def test_three_chats_fill_an_agent_exactly() -> None:
    pool = AgentPool([agent(1)])
    j = journey()
    for _ in range(3):
        d = decide(j, pool, NOW, CONFIG)
        assert d.agent_id == uuid.UUID(int=1)
        pool.update(d.agent_id, load=pool.agents[d.agent_id].load + d.details["weight"])
    assert abs(pool.agents[uuid.UUID(int=1)].load - 1.0) < EPSILON
    assert decide(j, pool, NOW, CONFIG).target == "queue"


def test_continuity_prefers_the_previous_agent_within_the_window() -> None:
    pool = AgentPool([agent(1, skills={"complaint": 3}), agent(2, load=0.5)])
    j = journey(previous_agent_id=uuid.UUID(int=2), previous_agent_at=NOW - timedelta(hours=2))
    d = decide(j, pool, NOW, CONFIG)
    assert d.agent_id == uuid.UUID(int=2) and d.details["continuity"]
    assert "previous agent (continuity)" in d.explanation
    stale = replace(j, previous_agent_at=NOW - timedelta(days=2))
    assert decide(stale, pool, NOW, CONFIG).agent_id == uuid.UUID(int=1)
    pool.update(uuid.UUID(int=2), load=0.9)
    assert decide(j, pool, NOW, CONFIG).agent_id == uuid.UUID(int=1)


def test_skills_relax_as_the_journey_waits() -> None:
    config = RoutingConfig(intents={"billing": Override(skill="billing", level=3)})
    pool = AgentPool([agent(1, skills={"billing": 1}), agent(2, skills={"returns": 2})])
    j = journey(signals=Signals(intent="billing", intent_signals=frozenset({"churn_risk"})))
    j = replace(j, human_request=True, waiting_since=NOW)
    assert requirement(j, pool, NOW, config) == Requirement("en", "billing", 3)
    assert decide(j, pool, NOW, config).target == "queue"
    at = NOW + timedelta(seconds=60)
    assert requirement(j, pool, at, config) == Requirement("en", "billing", 2)
    at = NOW + timedelta(seconds=120)
    assert requirement(j, pool, at, config) == Requirement("en", "billing", 1)
    assert decide(j, pool, at, config).agent_id == uuid.UUID(int=1)
    pool.update(uuid.UUID(int=1), presence="offline")
    assert decide(j, pool, at, config).target == "queue"
    at = NOW + timedelta(seconds=180)
    assert requirement(j, pool, at, config) == Requirement("en", None, 1)
    assert decide(j, pool, at, config).agent_id == uuid.UUID(int=2)


def test_a_skill_nobody_has_is_not_required() -> None:
    pool = AgentPool([agent(1)])
    assert requirement(journey(), pool, NOW, CONFIG).skill is None
    assert decide(journey(), pool, NOW, CONFIG).agent_id == uuid.UUID(int=1)


def test_team_transfer_only_considers_members() -> None:
    pool = AgentPool([agent(1, load=0.0), agent(2, teams=frozenset({"vip"}), load=0.5)])
    d = decide(journey(team="vip", needs_person=True), pool, NOW, CONFIG)
    assert (d.agent_id, d.reason) == (uuid.UUID(int=2), "handed_to_people")
    pool.update(uuid.UUID(int=2), presence="offline")
    d = decide(journey(team="vip", needs_person=True), pool, NOW, CONFIG)
    assert d.target == "queue" and d.explanation.endswith("in team vip")


def test_bot_decision_for_cheap_bot_work_and_people_for_a_handoff() -> None:
    pool = AgentPool([agent(1)])
    cheap = journey(signals=Signals(intent="order_status"), bot_may_resolve=True)
    d = decide(cheap, pool, NOW, CONFIG)
    assert (d.target, d.reason, d.requirement) == ("bot", "bot_resolvable", None)
    assert d.explanation.startswith("value 48 EUR < threshold 100 EUR; the bot resolves order")
    handed = replace(cheap, needs_person=True)
    assert decide(handed, pool, NOW, CONFIG).target == "agent"


def test_all_policies_on_one_journey_and_pool() -> None:
    pool = AgentPool([agent(1)])
    cheap = journey(signals=Signals(intent="order_status"), bot_may_resolve=True)
    targets = {p: decide(cheap, pool, NOW, RoutingConfig(policy=p)).target for p in POLICIES}
    assert targets == {
        "value": "bot",
        "complexity": "bot",
        "bot_first": "bot",
        "human_first": "agent",
    }


# --- properties ---------------------------------------------------------------------------

LANGS = ["en", "sv", "de"]
SKILLS = ["billing", "returns", "tech", "complaint"]
CLASSES = ["voice", "chat", "messaging", "email"]

agent_st = st.builds(
    lambda n, presence, langs, skills, cap, load, last, teams: AgentSnapshot(
        uuid.UUID(int=n),
        presence,
        frozenset(langs),
        skills,
        cap,
        load,
        frozenset(teams),
        float(last),
    ),
    st.integers(1, 10**6),
    st.sampled_from(["online", "online", "away", "offline"]),
    st.sets(st.sampled_from(LANGS), min_size=1),
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3)),
    st.fixed_dictionaries({c: st.integers(0, 6) for c in CLASSES}),
    st.sampled_from([0.0, 0.2, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 0.9, 1.0]),
    st.integers(0, 5),
    st.sets(st.sampled_from(["a", "b"])),
)
journey_st = st.builds(
    lambda cls, lang, intent, human, team, n_excl: JourneySnapshot(
        uuid.uuid4(),
        channel_class=cls,
        language=lang,
        signals=Signals(intent=intent),
        human_request=human,
        needs_person=not human,
        team=team,
        excluded_agents=frozenset(uuid.UUID(int=i) for i in range(1, n_excl)),
    ),
    st.sampled_from(CLASSES),
    st.sampled_from([*LANGS, None]),
    st.sampled_from([*SKILLS, None]),
    st.booleans(),
    st.sampled_from([None, None, "a"]),
    st.integers(0, 4),
)


def brute_force(j: JourneySnapshot, pool: AgentPool, need: Requirement) -> AgentSnapshot | None:
    """What the index must find: the same answer as looking at every agent."""
    fits = [
        a
        for a in pool.agents.values()
        if a.presence == "online"
        and a.id not in j.excluded_agents
        and a.fits(j.channel_class)
        and (j.team is not None or need.language is None or need.language in a.languages)
        and (j.team is not None or need.skill is None or a.skills.get(need.skill, 0) >= need.level)
        and (j.team is None or j.team in a.teams)
    ]
    if j.team is not None or need.skill is None:
        return min(fits, key=lambda a: a.key, default=None)
    return min(fits, key=lambda a: (-a.skills[need.skill or ""], *a.key), default=None)


@settings(max_examples=200)
@given(st.lists(agent_st, max_size=25, unique_by=lambda a: a.id), journey_st)
def test_index_finds_what_a_full_scan_finds(
    agents: list[AgentSnapshot], j: JourneySnapshot
) -> None:
    pool = AgentPool(agents)
    need = requirement(j, pool, NOW, CONFIG)
    assert best_agent(j, pool, need) == brute_force(j, pool, need)


@settings(max_examples=100)
@given(
    st.lists(agent_st, min_size=1, max_size=15, unique_by=lambda a: a.id),
    st.lists(journey_st, min_size=1, max_size=60),
    st.lists(st.integers(0, 100), max_size=60),
)
def test_never_over_capacity_and_never_offline(
    agents: list[AgentSnapshot], journeys: list[JourneySnapshot], releases: list[int]
) -> None:
    """Assign a stream, ending some conversations on the way: no load ever exceeds 1.0."""
    pool = AgentPool(replace(a, load=0.0) for a in agents)
    active: list[tuple[uuid.UUID, float]] = []
    for index, j in enumerate(journeys):
        d = decide(j, pool, NOW, CONFIG)
        if d.target == "agent":
            assert d.agent_id is not None
            chosen = pool.agents[d.agent_id]
            assert chosen.presence == "online" and chosen.id not in j.excluded_agents
            load = chosen.load + d.details["weight"]
            assert load <= 1.0 + EPSILON
            pool.update(chosen.id, load=load, last_assigned=float(index))
            active.append((chosen.id, d.details["weight"]))
        if index < len(releases) and active and releases[index] % 3 == 0:
            agent_id, weight = active.pop(releases[index] % len(active))
            pool.update(agent_id, load=max(0.0, pool.agents[agent_id].load - weight))
    assert all(a.load <= 1.0 + EPSILON for a in pool.agents.values())


@given(
    st.lists(agent_st, max_size=10, unique_by=lambda a: a.id), journey_st, st.sampled_from(POLICIES)
)
def test_human_request_always_reaches_people(
    agents: list[AgentSnapshot], j: JourneySnapshot, policy: str
) -> None:
    j = replace(j, human_request=True, needs_person=False, bot_may_resolve=True)
    d = decide(j, AgentPool(agents), NOW, RoutingConfig(policy=policy))
    assert d.target in ("agent", "queue") and d.reason == "human_request"
