"""Events the notifications service consumes: its queues ``notifications.<purpose>`` and their handlers."""

from shared.messaging.consumer import Consumer

consumers: list[Consumer] = []
