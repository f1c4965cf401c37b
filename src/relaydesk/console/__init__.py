"""The agent console: sign-in, inbox, journey view (server-rendered, small ES modules)."""
