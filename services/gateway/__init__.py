"""The gateway: the only public door (identity, sessions, API keys, the audit log) and the views composed from the
other services."""
