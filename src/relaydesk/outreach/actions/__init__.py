"""The only outreach code that writes: notifications, proactive updates, surveys."""
