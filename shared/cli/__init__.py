"""The ``portal`` command line: run the system, migrate, inspect the outbox, manage dead-letter queues."""
