"""The cases service: the case lifecycle (statuses, treatment setups, phases, expiry, history, labels) and the
orders-list read model."""
