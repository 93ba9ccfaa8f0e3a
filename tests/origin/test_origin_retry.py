"""Retries are visible (issue 12 §2 "Retries"): under -v (and on a terminal) each retry is a
line on stderr, and the final error says how many tries it made and how long they took. A hung
registry never gives minutes of silence."""

from __future__ import annotations

import os
import pty
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trustme

from regkit.errors import ConnectionFailedError, RegistryError
from regkit.registry import RegistryClient, RetryPolicy
from tests.clirun import regkit
from tests.fakeserver import Answer, Seen, json_answer, serve

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, total=30.0)


def _busy(seen: Seen) -> Answer:
    if seen.path == "/v2/":
        return json_answer(200, b"{}")
    return json_answer(503, b'{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}')


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A server context for 127.0.0.1 and the CA file that trusts it."""
    authority = trustme.CA(organization_name="regkit retry test CA")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(ctx)
    path = tmp_path_factory.mktemp("retry-ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return ctx, str(path)


@contextmanager
def hung_server(ctx: ssl.SSLContext) -> Iterator[str]:
    """A hung registry: completes the TLS handshake, reads the request, never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def handshake(conn: socket.socket) -> None:
        try:
            held.append(ctx.wrap_socket(conn, server_side=True))
        except (OSError, ssl.SSLError):
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            threading.Thread(target=handshake, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        for conn in held:
            conn.close()
        thread.join(5)


def test_retries_show_under_verbose_and_the_error_counts_tries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (
        serve(_busy) as fake,
        RegistryClient(fake.host, retry=FAST, verbose=1, jobs=1) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.tags("app")
    message = str(caught.value)
    assert re.search(r"answered 503 UNAVAILABLE \(busy\) after 3 tries in \d+\.\ds$", message)
    err = capsys.readouterr().err
    assert "regkit: GET /v2/app/tags/list?n=1000 answered 503; try 2 of 3 in " in err
    assert "regkit: GET /v2/app/tags/list?n=1000 answered 503; try 3 of 3 in " in err
    assert "try 4 of 3" not in err


def test_retries_are_quiet_without_verbose_off_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (
        serve(_busy) as fake,
        RegistryClient(fake.host, retry=FAST, jobs=1) as client,
        pytest.raises(RegistryError, match=r"after 3 tries in"),
    ):
        client.tags("app")
    assert capsys.readouterr().err == ""


def test_one_try_says_nothing_about_tries() -> None:
    one = RetryPolicy(attempts=1)
    with (
        serve(_busy) as fake,
        RegistryClient(fake.host, retry=one, jobs=1) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.tags("app")
    assert "tries" not in str(caught.value)
    assert str(caught.value).endswith("answered 503 UNAVAILABLE (busy)")


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
def test_hung_registry_shows_each_retry_and_the_error_counts_tries(
    capsys: pytest.CaptureFixture[str], tls: tuple[ssl.SSLContext, str]
) -> None:
    ctx, ca_file = tls
    with (
        hung_server(ctx) as host,
        RegistryClient(host, retry=FAST, timeout=0.2, verbose=1, jobs=1, ca_file=ca_file) as client,
        pytest.raises(ConnectionFailedError) as caught,
    ):
        client.tags("app")
    message = str(caught.value)
    assert re.search(
        rf"^{host} did not answer in time \(ReadTimeout\) after 3 tries in \d", message
    )
    err = capsys.readouterr().err
    # The first request doubles as the probe: its time-out is try 1 of 3, then the probe's.
    assert (
        "regkit: GET /v2/app/tags/list?n=1000 failed (ReadTimeout); probing GET /v2/ "
        "(try 2 of 3)\n" in err
    )
    assert err.count("regkit: GET /v2/ failed (ReadTimeout); try 3 of 3 in ") == 1
    assert "try 4 of" not in err


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
def test_cli_on_a_hung_registry_under_verbose(tls: tuple[ssl.SSLContext, str]) -> None:
    ctx, ca_file = tls
    with hung_server(ctx) as host:
        result = regkit(
            "-v", "--timeout", "0.2", "--ca-file", ca_file, "ls", f"{host}/app", timeout=60
        )
    err = result.stderr.decode()
    assert result.returncode == 1
    assert err.count("failed (ReadTimeout); try ") == 4  # tries 2..5 of 5 of the probe
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"regkit: error: {host} did not answer in time \(ReadTimeout\) after 5 tries in "
        r"\d+\.\ds; check the host, the port and the network, or retry later",
        last,
    ), last


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
@pytest.mark.parametrize("quiet", [False, True], ids=["terminal", "terminal-quiet"])
def test_cli_on_a_terminal_shows_retries_without_verbose(quiet: bool) -> None:
    """On a terminal (stderr a tty) retries show even without -v (not with REGKIT_QUIET);
    the CI log (no terminal) stays quiet."""
    with serve(_busy) as fake:
        primary, secondary = pty.openpty()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "regkit", "ls", f"{fake.host}/app"],
                stdout=subprocess.PIPE,
                stderr=secondary,
                stdin=subprocess.DEVNULL,
                env={
                    "PATH": os.environ["PATH"],
                    "HOME": "/nonexistent",
                    "REGKIT_CACHE": "off",
                    **({"REGKIT_QUIET": "1"} if quiet else {}),
                },
                timeout=120,
                check=False,
            )
            os.close(secondary)
            secondary = -1
            chunks = []
            while True:
                try:
                    data = os.read(primary, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
        finally:
            if secondary >= 0:
                os.close(secondary)
            os.close(primary)
    err = b"".join(chunks).decode()
    assert proc.returncode == 1
    assert ("answered 503; try 2 of 5 in " in err) is not quiet
    assert "after 5 tries in" in err
