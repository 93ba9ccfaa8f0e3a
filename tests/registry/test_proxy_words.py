"""regkit behind a reverse proxy (issue 20, "behind a proxy"): what it says when the proxy
refuses (403 write block), when a given CA file does not verify the server, what its
connection warm-up costs the proxy's logs (401s that fail2ban/CrowdSec count), and that
``-v`` lines from parallel requests stay whole. Real nginx + TLS rigs (tests/rig), fakes only
for a certificate issued for another name."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import trustme

from regkit.dockerconfig import Credentials
from regkit.registry import RegistryClient
from tests.clirun import regkit
from tests.fakeserver import Seen, json_answer, serve
from tests.rig import Rig


def _error_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode().splitlines() if line.startswith("regkit: error:")]
    assert len(lines) == 1, stderr.decode()
    return lines[0]


# -- 1. a 403 from the proxy is the proxy's, not "the user lacks permission" ---------------------


def test_write_blocked_by_the_proxy_names_the_proxy(
    rig_factory: Callable[..., Rig], repo_prefix: str
) -> None:
    rig = rig_factory("tls")
    image = rig.pusher().push_image(f"{repo_prefix}/app", ["v1"], "oci")
    assert rig.nginx is not None
    rig.nginx.write_block = True  # limit_except GET HEAD { deny all; }
    rig.nginx.restart()
    rig.mark()
    out = regkit("tag", image.ref(rig.host, "v1"), "v2", env=rig.env())
    assert out.returncode == 1, out.stderr.decode()
    line = _error_line(out.stderr)
    assert "lacks permission" not in line
    assert "403" in line
    assert "proxy" in line  # the registry or a proxy in front of it refused
    assert "write" in line  # what to check: a write block
    assert "limit_except" in line or "write block" in line
    assert rig.password not in line
    # nginx answered the write itself; nothing was tagged
    assert any(r.status == 403 and r.method == "PUT" for r in rig.requests())
    assert rig.pusher().tags(f"{repo_prefix}/app") == ["v1"]


def test_read_refused_by_a_proxy_says_what_to_check() -> None:
    html = b"<html><head><title>403 Forbidden</title></head><body>nginx</body></html>"

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if seen.path == "/v2/":
            return json_answer(200, b"{}")
        return 403, {"Content-Type": "text/html"}, html

    with serve(route) as fake:
        out = regkit("ls", f"{fake.host}/app")
    assert out.returncode == 1
    line = _error_line(out.stderr)
    assert "lacks permission" not in line
    assert "403" in line and "proxy" in line
    assert "access rules" in line


# -- 2. --ca-file given and still not verified: never "pass --ca-file" ---------------------------


def test_wrong_ca_file_names_the_file_not_the_flag(rig_tls: Rig, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="not the registry's CA").cert_pem.write_to_path(str(other))
    env = rig_tls.env()
    env.pop("SSL_CERT_FILE")
    out = regkit("catalog", rig_tls.host, "--ca-file", str(other), env=env)
    assert out.returncode == 1
    line = _error_line(out.stderr)
    assert "--ca-file" not in line and "pass " not in line
    assert str(other) in line
    assert "does not match" in line or "not signed by" in line


def test_certificate_for_another_name_says_so(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("registry.other.test").configure_cert(server)

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        return json_answer(200, b"{}")

    with serve(route, tls=server) as fake:
        out = regkit("catalog", fake.host, "--ca-file", str(ca_file))
    assert out.returncode == 1
    line = _error_line(out.stderr)
    assert "--ca-file" not in line  # the CA was right: its certificate names another host
    assert "not valid for" in line or "does not match" in line
    assert fake.host.split(":")[0] in line


# -- 3. warm-up: no anonymous 401 per pooled connection ------------------------------------------


def test_overview_sends_no_anonymous_requests_to_a_basic_auth_proxy(
    tls_rig: Rig, repo_prefix: str
) -> None:
    tls_rig.pusher().push_images(f"{repo_prefix}/app", [f"t{i:02d}" for i in range(20)])
    tls_rig.mark()
    out = regkit("overview", tls_rig.host, "--repo", f"{repo_prefix}/app", env=tls_rig.env())
    assert out.returncode == 0, out.stderr.decode()
    statuses = [r.status for r in tls_rig.requests()]
    # preemptive Basic: the first request is answered 200, and the warm-up carries the
    # credentials once they were accepted: nothing for fail2ban or CrowdSec to count
    assert statuses.count(401) == 0, statuses
    assert len(statuses) > 20


def test_warm_ups_wait_for_the_first_answer_then_carry_the_accepted_credentials() -> None:
    seen_auth: list[str | None] = []

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if seen.path == "/v2/":
            seen_auth.append(seen.headers.get("authorization"))
            time.sleep(0.3)  # a slow answer must not hold the caller
            if seen.headers.get("authorization") is None:
                return json_answer(401, b"{}", **{"WWW-Authenticate": 'Basic realm="x"'})
            return json_answer(200, b"{}")
        return json_answer(200, b'{"name":"app","tags":["a"]}')

    with serve(route) as fake:
        client = RegistryClient(fake.host, credentials=Credentials("u", "pw-x"), jobs=8)
        with client:
            started = time.monotonic()
            client.warm(4)  # before the first answer: nothing sent yet
            assert time.monotonic() - started < 0.2
            assert seen_auth == []
            # the first request (on plain HTTP here, so the ping): its answer starts them
            assert client.tags("app") == ["a"]
            deadline = time.monotonic() + 5
            while len(seen_auth) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
    assert len(seen_auth) == 5  # the ping and the four warm-ups
    assert None not in seen_auth  # never an anonymous request answered 401


def test_no_warm_up_with_a_wrong_password(rig_tls: Rig, repo_prefix: str) -> None:
    rig_tls.pusher().push_image(f"{repo_prefix}/app", ["v1"], "oci")
    rig_tls.mark()
    env = {
        **rig_tls.env(),
        "REGISTRY_USERNAME": rig_tls.username,
        "REGISTRY_PASSWORD": rig_tls.password + "-wrong",
    }
    out = regkit("overview", rig_tls.host, "--repo", f"{repo_prefix}/app", env=env)
    assert out.returncode == 1
    statuses = [r.status for r in rig_tls.requests()]
    assert statuses.count(401) <= 2, statuses  # the refusal itself, no warm-up per connection


# -- 4. -v: every line whole, even from 16 threads -----------------------------------------------

_LOG_LINE = re.compile(r"^regkit: [A-Z]+ \S+ -> \d{3} \(\d+ ms, HTTP/[12](\.[01])?\)$")


def test_verbose_lines_from_parallel_requests_are_whole(rig_tls: Rig, repo_prefix: str) -> None:
    rig_tls.pusher().push_images(
        f"{repo_prefix}/app", [f"t{i:03d}" for i in range(60)], "oci-index"
    )
    out = regkit(
        "overview",
        rig_tls.host,
        "--repo",
        f"{repo_prefix}/app",
        "-v",
        "--jobs",
        "16",
        "--no-cache",
        env=rig_tls.env(),
    )
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stderr.decode().splitlines()
    requests = [line for line in lines if " -> " in line]
    assert len(requests) >= 120
    bad = [line for line in lines if line.count("regkit:") != 1 or not line.startswith("regkit: ")]
    assert not bad, bad[:5]
    assert all(_LOG_LINE.match(line) for line in requests), [
        line for line in requests if not _LOG_LINE.match(line)
    ][:5]
