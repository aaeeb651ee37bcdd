"""Events the cases service consumes: its queues ``cases.<purpose>`` and their handlers."""

from shared.messaging.consumer import Consumer

consumers: list[Consumer] = []
