"""The cases service: the case lifecycle: statuses, treatment setups, phases, expiry, history, labels, the orders-list read model."""
