"""Value-based routing: pure decisions (value, policies, queue, assignment) and the actions
that persist them. ``decide`` is the entry point the live hub and the simulator share."""
