"""Visibility: agents see what they hold, what is offered to them and their teams' queue;
supervisors see everything; the live socket forwards only what its user may see."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tests.console.support import sign_in
from tests.console.test_pages import scene  # noqa: F401  (fixture)

from relaydesk.console.auth import ConsoleUser
from relaydesk.console.live import Gate
from relaydesk.console.visibility import may_see, visible_now
from relaydesk.hub import Hub


def _user(agent_id: uuid.UUID, role: str = "agent") -> ConsoleUser:
    return ConsoleUser(
        agent_id=agent_id,
        session_id=uuid.uuid4(),
        email="x@example.com",
        name="X",
        role=role,
        csrf_token="t",
    )


async def test_agents_see_their_own_and_their_queue(hub: Hub, scene: dict[str, Any]) -> None:  # noqa: F811
    maja, budi, anna = (scene["journeys"][n].id for n in ("Maja", "Budi", "Anna"))
    alice, bob, sam = _user(scene["alice"]), _user(scene["bob"]), _user(scene["sam"], "supervisor")
    async with hub.db.read() as session:
        assert await may_see(session, alice, maja)
        assert not await may_see(session, bob, maja)
        assert await may_see(session, bob, budi)  # the queue for no team in particular
        assert not await may_see(session, bob, anna)  # unassigned: routing decides
        assert all([await may_see(session, sam, j) for j in (maja, budi, anna)])
        assert maja in await visible_now(session, alice)
        assert maja not in await visible_now(session, bob)


async def test_the_socket_gate_drops_other_agents_journeys(
    hub: Hub,
    scene: dict[str, Any],  # noqa: F811
) -> None:
    maja, anna = scene["journeys"]["Maja"].id, scene["journeys"]["Anna"].id
    bob = Gate(hub, _user(scene["bob"]))
    await bob.seed()
    assert not await bob.allows({"type": "message.received", "journey_id": str(maja)})
    assert not await bob.allows({"type": "message.received", "journey_id": "not-an-id"})
    assert not await bob.allows({"type": "webchat.typing", "customer_id": str(uuid.uuid4())})
    alice = Gate(hub, _user(scene["alice"]))
    await alice.seed()
    assert await alice.allows({"type": "message.received", "journey_id": str(maja)})
    assert not await alice.allows({"type": "message.received", "journey_id": str(anna)})
    sam = Gate(hub, _user(scene["sam"], "supervisor"))
    assert await sam.allows({"type": "message.received", "journey_id": str(anna)})


async def test_a_supervisor_opens_any_journey(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811
) -> None:
    await sign_in(browser, "sam@example.com")
    page = await browser.get(f"/console/journeys/{scene['journeys']['Maja'].id}")
    assert page.status_code == 200
