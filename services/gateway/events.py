"""Events the gateway service consumes: its queues ``gateway.<purpose>`` and their handlers."""

from shared.messaging.consumer import Consumer

consumers: list[Consumer] = []
