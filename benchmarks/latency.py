"""A userspace TCP proxy on loopback that adds a fixed one-way delay in each direction.

This kernel has no ``netem``, so the benchmarks reach the registry through this proxy. Every
chunk read from one side is written to the other side ``delay`` seconds after it arrived, in
order; the proxy never limits bandwidth (chunks in flight overlap, like packets on a long
link). With ``connect_rtt`` (default on) the first bytes a client sends on a new connection
wait one more round trip, which is what the TCP handshake (SYN, SYN-ACK) costs on a real link
and what a loopback ``connect()`` does not: tools that open many connections pay for them.

TLS passes through untouched (the proxy sees only bytes), so clients talk to the proxy's
``127.0.0.1:PORT`` and verify the server's certificate for 127.0.0.1 as usual.

Runs an asyncio loop in a daemon thread::

    with LatencyProxy(("127.0.0.1", 8443), delay=0.020) as proxy:
        url = f"https://{proxy.host}/v2/"
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

CHUNK = 64 * 1024
_EOF = b""


@dataclass
class ProxyStats:
    connections: int = 0
    bytes_up: int = 0  # client -> server
    bytes_down: int = 0  # server -> client
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, connections: int = 0, up: int = 0, down: int = 0) -> None:
        with self.lock:
            self.connections += connections
            self.bytes_up += up
            self.bytes_down += down

    def snapshot(self) -> tuple[int, int, int]:
        with self.lock:
            return self.connections, self.bytes_up, self.bytes_down


class LatencyProxy:
    """Listen on ``listen`` (default 127.0.0.1, a free port) and forward to ``upstream``."""

    def __init__(
        self,
        upstream: tuple[str, int],
        delay: float,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        connect_rtt: bool = True,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.upstream = upstream
        self.delay = delay
        self.connect_rtt = connect_rtt
        self.stats = ProxyStats()
        self._listen = listen
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._address: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("proxy not started")
        return self._address

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what clients use as the registry host."""
        return f"{self.address[0]}:{self.address[1]}"

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        if self._address is None:
            raise RuntimeError("latency proxy did not start")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(self._shutdown)
            thread.join(10)
        self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self._listen[0], self._listen[1])
            )
            sock = self._server.sockets[0].getsockname()
            self._address = (str(sock[0]), int(sock[1]))
        except BaseException as err:  # reported by start()
            self._error = err
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        assert self._loop is not None
        self._loop.call_later(0.05, self._loop.stop)

    # -- forwarding --------------------------------------------------------------------------
    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self.stats.add(connections=1)
        server_w: asyncio.StreamWriter | None = None
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
            not_before = accepted + (2 * self.delay if self.connect_rtt else 0.0)
            await asyncio.gather(
                self._pipe(client_r, server_w, not_before, up=True),
                self._pipe(server_r, client_w, accepted, up=False),
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a peer went away, or the proxy is stopping
        finally:
            for w in (client_w, server_w):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        not_before: float,
        *,
        up: bool,
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``delay`` after it was read (in order)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            try:
                while True:
                    data = await reader.read(CHUNK)
                    due = max(loop.time(), not_before) + self.delay
                    await queue.put((due, data))
                    if not data:
                        return
            except OSError:
                await queue.put((loop.time(), _EOF))

        async def write() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                try:
                    writer.write(data)
                    await writer.drain()
                except OSError:  # the other side went away: stop this direction
                    return
                if up:
                    self.stats.add(up=len(data))
                else:
                    self.stats.add(down=len(data))

        reader_task = asyncio.create_task(read())
        try:
            await write()
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reader_task


__all__ = ["LatencyProxy", "ProxyStats"]
