"""Outreach: proactive status updates, scheduled notifications and surveys (CES, VES, CSAT, NPS).

Everything scheduled is a durable timer (relaydesk.timers); everything sent goes through the
journeys' reply path (journeys/actions/replies.py), so consent and window rules are the same
as for an agent's reply.
"""
