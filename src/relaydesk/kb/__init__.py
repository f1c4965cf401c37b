"""The knowledge base: articles in several languages, for customers, agents and the bot.

Its own domain because three audiences read it: customers through the public help centre
(``/help``), integrators and agents through ``/api/v1/kb``, and the bot through the cached
``queries.load_knowledge_base(hub)``. The pure retrieval lives in ``relaydesk.bot.kb`` so the
simulator runs the same ranking without a database.
"""
