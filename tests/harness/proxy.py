"""A TCP proxy that plays the network's and a server's faults between a client and its upstream.

Modes, set at any time:
- ``forward``: bytes pass both ways.
- ``silent`` (:meth:`FaultProxy.cut`): bytes in both directions are swallowed and new connections are accepted but
  never answered, as when a cable is pulled or a firewall starts dropping packets: neither side sees a close, only
  silence. A connection that went silent stays silent after :meth:`FaultProxy.restore`, as a stale one would.
- ``slow``: the upstream's bytes reach the client only after :attr:`FaultProxy.delay` seconds each time; with a
  :attr:`FaultProxy.slow_path`, only the answers to HTTP requests whose request line names that path.
- ``reset``: new connections are answered with a TCP reset, one out of every :attr:`FaultProxy.reset_every`;
  the others pass.
- ``down`` (:meth:`FaultProxy.stop`): the port is closed, connections are refused and the open ones are dropped,
  as when the server process has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from tests.harness.rabbit import free_port


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_host:upstream_port`` in the current :attr:`mode`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.mode = "forward"
        self.delay = 0.0
        self.slow_path: bytes | None = None
        self.reset_every = 1
        self._accepted = 0
        self.connections = 0
        """Connections accepted so far, whatever the mode."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, for an HTTP upstream."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        """Listen on the proxy's port (again, after :meth:`stop`) and forward."""
        self.mode = "forward"
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    def cut(self) -> None:
        """From now on, swallow everything and answer nothing."""
        self.mode = "silent"

    def restore(self) -> None:
        """Forward new connections again."""
        self.mode = "forward"

    def slow(self, delay: float, path: str | None = None) -> None:
        """Hold each answer of the upstream ``delay`` seconds before passing it on; with ``path``, only the answers
        to HTTP requests for a path that holds it."""
        self.delay, self.slow_path, self.mode = delay, path.encode() if path else None, "slow"

    def reset(self, every: int = 1) -> None:
        """Reset one new connection out of ``every`` (each of them with 1)."""
        self.reset_every, self._accepted, self.mode = every, 0, "reset"

    async def stop(self) -> None:
        """Refuse connections and drop the open ones, as a stopped server would."""
        self.mode = "down"
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._drop()
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        if self.mode == "silent":
            await self._swallow(reader)
            return
        if self.mode == "reset":
            self._accepted += 1
            if self._accepted % self.reset_every == 0:
                _abort(writer)
                return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers.add(up_writer)
        asked = {"path": b""}  # the request line last sent on this connection (HTTP/1.1 answers come in order)
        for source, target, answer in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pump(source, target, answer, asked))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, answer: bool, asked: dict[str, bytes]
    ) -> None:
        was_cut = False
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await source.read(65536):
                was_cut = was_cut or self.mode == "silent"
                if was_cut:
                    continue  # once cut, this connection stays silent for good
                if not answer and data[:8].split(b" ")[0] in (b"GET", b"POST", b"PUT", b"PATCH", b"DELETE"):
                    asked["path"] = data.split(b"\r\n", 1)[0]
                if answer and self.mode == "slow" and (self.slow_path is None or self.slow_path in asked["path"]):
                    await asyncio.sleep(self.delay)
                target.write(data)
                await target.drain()
        if not was_cut:
            target.close()

    @staticmethod
    async def _swallow(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    def _drop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        await self.stop()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close ``writer``'s connection with a TCP reset (SO_LINGER 0) instead of an orderly close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
