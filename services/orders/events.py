"""Events the orders service consumes: its queues ``orders.<purpose>`` and their handlers."""

from shared.messaging.consumer import Consumer

consumers: list[Consumer] = []
