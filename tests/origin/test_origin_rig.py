"""Credentials only to the registry's origin, on the real rig (issue 12 §1).

nginx terminates TLS in front of a real distribution registry but does NOT pass
``X-Forwarded-Proto`` (a common setup), so the registry answers an upload POST with
``Location: http://HOST:PORT/v2/.../uploads/...``. The registry is reached under a name that
does not look like loopback (``registry.regkit.test`` -> 127.0.0.2 in /etc/hosts), through a
relay that records every plaintext request: the "loopback may use plain HTTP" exception cannot
hide a downgrade. ``regkit copy`` must succeed over HTTPS with no credential ever sent in
clear; crane is the comparison.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.clirun import regkit
from tests.leakscan import assert_no_secrets
from tests.rig import Rig, require_crane
from tests.rig.nginx import NginxProcess
from tests.rig.ports import LOOPBACK
from tests.rig.registry import RegistryProcess
from tests.rig.relay import Relay, ensure_hosts_entry
from tests.rig.shapes import make_htpasswd
from tests.rig.tools import VERSIONS, Version, require_registry

NAME = "registry.regkit.test"
ADDRESS = "127.0.0.2"
USER = "origin-user"
PASSWORD = 'pw-"origin\\clear'


@dataclass
class Proxied:
    host: str  # registry.regkit.test:PORT (the relay)
    relay: Relay
    nginx: NginxProcess
    ca_file: Path
    docker_config: Path

    def env(self) -> dict[str, str]:
        return {"DOCKER_CONFIG": str(self.docker_config), "SSL_CERT_FILE": str(self.ca_file)}


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"v{v}" for v in VERSIONS])
def proxied(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, rig_basic: Rig
) -> Iterator[Proxied]:
    """distribution (2.8 and registry:3, which production runs) behind nginx TLS without
    X-Forwarded-Proto, reached as registry.regkit.test through the recording relay."""
    version: Version = request.param
    require_registry(version)
    if not ensure_hosts_entry(NAME, ADDRESS):
        pytest.skip(f"cannot map {NAME} to {ADDRESS} in /etc/hosts (needs root)")
    work = tmp_path_factory.mktemp("origin-rig")
    htpasswd = work / "htpasswd"
    make_htpasswd(htpasswd, USER, PASSWORD)
    ca = trustme.CA(organization_name="regkit origin test CA")
    leaf = ca.issue_cert(NAME)
    ca_file, cert_file, key_file = work / "ca.pem", work / "chain.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_file))
    registry = RegistryProcess(work / "registry", version=version)
    nginx = NginxProcess(
        work / "nginx",
        upstream="",
        cert_file=cert_file,
        key_file=key_file,
        htpasswd=htpasswd,
        http2=False,
        forwarded_proto=False,
    )
    relay: Relay | None = None
    try:
        registry.start()
        nginx.upstream = registry.host
        nginx.start()
        assert nginx.port is not None
        relay = Relay(ADDRESS, (LOOPBACK, nginx.port))
        relay.start()
        host = f"{NAME}:{relay.port}"
        config = work / "docker"
        config.mkdir()
        auths = {
            h: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
            for h, (u, p) in {host: (USER, PASSWORD), rig_basic.host: rig_basic.credentials}.items()
        }
        (config / "config.json").write_text(json.dumps({"auths": auths}))
        yield Proxied(host, relay, nginx, ca_file, config)
    finally:
        if relay is not None:
            relay.stop()
        nginx.stop(kill=True)
        registry.stop(kill=True)


def _digest(proxied: Proxied, ref: str) -> str:
    crane = require_crane()
    out = subprocess.run(
        [crane, "digest", ref],
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **proxied.env()},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return out.stdout.decode().strip()


def test_registry_behind_the_proxy_answers_uploads_with_an_http_location(
    proxied: Proxied,
) -> None:
    """The premise: without X-Forwarded-Proto the registry points uploads at http://."""
    import ssl

    import httpx

    ctx = ssl.create_default_context(cafile=str(proxied.ca_file))
    with httpx.Client(verify=ctx, auth=(USER, PASSWORD)) as client:
        answer = client.post(f"https://{proxied.host}/v2/premise/blobs/uploads/")
    assert answer.status_code == 202
    assert answer.headers["location"].startswith(f"http://{proxied.host}/v2/premise/blobs/uploads/")


def test_copy_into_a_registry_without_forwarded_proto_sends_no_credentials_in_clear(
    proxied: Proxied, rig_basic: Rig, repo_prefix: str
) -> None:
    image = rig_basic.pusher().push_image(f"{repo_prefix}/src", "v1", layers=2)
    before = len(proxied.relay.plaintext)
    target = f"{proxied.host}/{repo_prefix}/dst:v1"
    result = regkit("copy", rig_basic.ref(f"{repo_prefix}/src", "v1"), target, env=proxied.env())
    plain = proxied.relay.plaintext[before:]
    assert [r for r in plain if r.has_credentials] == []
    assert plain == []  # nothing at all in clear: every upload went over HTTPS
    assert result.returncode == 0, result.stderr.decode()
    assert _digest(proxied, target) == image.digest
    assert_no_secrets(
        {"stdout": result.stdout.decode(), "stderr": result.stderr.decode()},
        [PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()],
    )


def test_crane_copy_into_the_same_registry_sends_nothing_in_clear(
    proxied: Proxied, rig_basic: Rig, repo_prefix: str
) -> None:
    """The comparison: go-containerregistry upgrades the http:// Location to https."""
    crane = require_crane()
    image = rig_basic.pusher().push_image(f"{repo_prefix}/src", "v1", layers=2)
    before = len(proxied.relay.plaintext)
    target = f"{proxied.host}/{repo_prefix}/crane:v1"
    subprocess.run(
        [crane, "copy", rig_basic.ref(f"{repo_prefix}/src", "v1"), target],
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **proxied.env()},
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert proxied.relay.plaintext[before:] == []
    assert _digest(proxied, target) == image.digest
