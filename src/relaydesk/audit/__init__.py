"""The audit log: who changed what in the workspace, when, with a before/after summary."""
