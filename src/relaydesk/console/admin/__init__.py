"""Admin pages: channels, agents and teams, skills, routing, knowledge base, intents, audit."""
