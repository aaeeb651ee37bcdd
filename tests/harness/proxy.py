"""A TCP proxy that can cut the network between a service and the broker without closing any socket.

While cut, bytes in both directions are swallowed and new connections are accepted but never answered, as when a
cable is pulled or a firewall starts dropping packets: neither side sees a close, only silence.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.harness.rabbit import free_port


class CuttableProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_host:upstream_port`` until :meth:`cut`; :meth:`restore` mends it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> CuttableProxy:
        """Listen on the proxy's port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    def cut(self) -> None:
        """From now on, swallow everything and answer nothing."""
        self.cut_off = True

    def restore(self) -> None:
        """Forward new connections again (connections opened before the cut stay silent, as stale ones would)."""
        self.cut_off = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.cut_off:
            await self._swallow(reader)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers.add(up_writer)
        for source, target in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        was_cut = False
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await source.read(65536):
                was_cut = was_cut or self.cut_off
                if was_cut:
                    continue  # once cut, this connection stays silent for good
                target.write(data)
                await target.drain()
        if not was_cut:
            target.close()

    @staticmethod
    async def _swallow(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()
