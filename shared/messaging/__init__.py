"""RabbitMQ messaging: topology, the transactional outbox and its relay, the idempotent inbox and its consumers."""
