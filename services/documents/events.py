"""Events the documents service consumes: its queues ``documents.<purpose>`` and their handlers."""

from shared.messaging.consumer import Consumer

consumers: list[Consumer] = []
