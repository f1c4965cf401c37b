"""Relaydesk: an omnichannel customer-service hub where bots and people work in tandem."""

__version__ = "0.1.0"
