"""Free loopback ports and readiness polling."""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel picks it).

    There is a small window before the caller binds it; callers retry with a new port when the
    server reports "address already in use" (see ``RegistryProcess.start``).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port_closed(port: int, host: str = LOOPBACK, timeout: float = 5.0) -> None:
    """Wait until nothing listens on host:port any more."""
    deadline = time.monotonic() + timeout
    while port_open(port, host):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} still accepts connections after {timeout}s")
        time.sleep(0.01)
