"""Canned replies: stored answers with {variables} an agent picks in the composer."""
