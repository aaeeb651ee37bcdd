"""One process's link to RabbitMQ: connect, declare the topology, attach every consumer, and do it all again after
a broker restart or a network cut.

aio-pika's robust connection is not used: its restore path is known to leave consumers detached or publishes
hanging (aio-pika#626, #231, #563, #334). Instead :meth:`Broker.run` owns a plain connection; when the connection or
any of its channels closes it tears everything down and starts over with a growing delay, and every publish carries
a timeout. :attr:`Broker.ready` is true only while every consumer is attached, which ``/readyz`` reports.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from functools import partial

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from yarl import URL

from shared.messaging.consumer import Consumer
from shared.messaging.topology import declare_consumer_queue, declare_exchanges, retry_queue_name
from shared.metrics import CONSUMERS_ATTACHED
from shared.settings import PortalSettings

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
SETUP_TIMEOUT_SECONDS = 15.0
HEARTBEAT_SECONDS = 10


class Broker:
    """A self-healing connection for ``service`` that runs ``consumers`` (their handlers get sessions from
    ``sessions``) and offers a confirm-mode exchange."""

    def __init__(
        self,
        service: str,
        settings: PortalSettings,
        sessions: async_sessionmaker[AsyncSession],
        consumers: Sequence[Consumer] = (),
    ) -> None:
        self.service = service
        self.settings = settings
        self.sessions = sessions
        self.consumers = list(consumers)
        self.attached: set[str] = set()
        self._events: AbstractExchange | None = None
        self._dead_letter: AbstractExchange | None = None
        self._publish_channel: AbstractChannel | None = None
        self._connection: AbstractConnection | None = None
        self._lost = asyncio.Event()

    @property
    def ready(self) -> bool:
        """True while connected with every consumer attached to its queue."""
        return self._events is not None and self.attached == {c.queue for c in self.consumers}

    def events_exchange(self) -> AbstractExchange | None:
        """The ``portal.events`` exchange on the confirm-mode channel, or None while disconnected."""
        return self._events

    async def run(self) -> None:
        """Stay connected until cancelled: connect, declare, consume; on any loss, clean up and start over."""
        delay = 0.2
        while True:
            try:
                # a broker that accepts the connection can still stall a declare or a consume (a quorum queue
                # without a leader yet, after a crash): give the whole set-up a deadline, then start over
                await asyncio.wait_for(self._connect(), SETUP_TIMEOUT_SECONDS)
                delay = 0.2
                log.info("broker connected", consumers=sorted(self.attached))
                await self._lost.wait()
                log.warning("broker connection lost; reconnecting")
            except asyncio.CancelledError:
                await self._teardown()
                raise
            except Exception as exc:
                log.warning("broker unavailable", error=repr(exc), retry_in=delay)
            await self._teardown()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.broker_reconnect_max_seconds)

    async def _connect(self) -> None:
        self._lost = asyncio.Event()
        url = URL(self.settings.rabbitmq_url)
        if "heartbeat" not in url.query:
            url = url.update_query(heartbeat=HEARTBEAT_SECONDS)
        connection = await aio_pika.connect(
            url,
            timeout=CONNECT_TIMEOUT_SECONDS,
            client_properties={"connection_name": f"portal-{self.service}-{os.getpid()}"},
        )
        self._connection = connection
        connection.close_callbacks.add(self._on_close)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(self._on_close)
        events, dead_letter = await declare_exchanges(channel)
        for consumer in self.consumers:
            consumer_channel = await connection.channel()
            consumer_channel.close_callbacks.add(self._on_close)
            await consumer_channel.set_qos(prefetch_count=self.settings.consumer_prefetch)
            queue = await declare_consumer_queue(
                consumer_channel, consumer.queue, consumer.routing_keys, self.settings.retry_delays_seconds
            )
            await queue.consume(partial(consumer.deliver, broker=self))
            self.attached.add(consumer.queue)
            CONSUMERS_ATTACHED.labels(self.service, consumer.queue).set(1)
        self._publish_channel = channel
        self._events, self._dead_letter = events, dead_letter

    def _on_close(self, *_: object) -> None:
        self._mark_detached()
        self._lost.set()

    def _mark_detached(self) -> None:
        self._events = None
        for queue in self.attached:
            CONSUMERS_ATTACHED.labels(self.service, queue).set(0)
        self.attached.clear()

    async def _teardown(self) -> None:
        self._mark_detached()
        connection, self._connection, self._publish_channel, self._dead_letter = self._connection, None, None, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), timeout=CONNECT_TIMEOUT_SECONDS)
            except Exception as exc:  # the connection is being abandoned either way
                log.debug("broker close failed", error=repr(exc))

    async def publish_to_dlq(self, queue: str, message: aio_pika.Message) -> None:
        """Publish ``message`` to ``<queue>.dlq`` and wait for the confirm; raises when disconnected or refused."""
        if self._dead_letter is None:
            raise ConnectionError("broker not connected")
        await self._dead_letter.publish(message, routing_key=queue, timeout=self.settings.publish_timeout_seconds)

    async def publish_to_retry(self, queue: str, delay_seconds: float, message: aio_pika.Message) -> None:
        """Publish ``message`` to the retry queue of ``queue`` for ``delay_seconds``; raises when it cannot."""
        if self._publish_channel is None:
            raise ConnectionError("broker not connected")
        await self._publish_channel.default_exchange.publish(
            message, routing_key=retry_queue_name(queue, delay_seconds), timeout=self.settings.publish_timeout_seconds
        )

    async def close(self) -> None:
        """Close the connection (the :meth:`run` task should be cancelled as well)."""
        await self._teardown()
