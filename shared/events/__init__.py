"""The event envelope (ARCHITECTURE.md rule 5) and the catalogue of event types and their payloads."""
