"""The web chat widget channel: a script tag on any page, a websocket to the hub.

See docs/channels/webchat.md. Modules: adapter (settings, translation), protocol (frames),
tokens (visitor tokens), session and routes (the websocket and widget files), queries,
actions (email claims, one-time codes, receipts), listeners (live pushes, sending codes),
broadcast (the Redis fan-out), limits (rate limits), models (verification codes).
"""

from relaydesk.channels.webchat import models as models  # registers its table
from relaydesk.channels.webchat.adapter import WebchatChannel

__all__ = ["WebchatChannel"]
