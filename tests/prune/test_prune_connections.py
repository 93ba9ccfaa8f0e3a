"""A prune reuses its keep-alive connections (issue 24, prune-100 under 4 s).

Every HEAD (the re-resolve of each doomed tag before its DELETE, the staying tags' check)
used to leave its answer unread: httpx keeps such a connection checked out, so the next
request opened a new one, paying the TCP and TLS handshakes (two round trips) each time. At
40 ms round trip prune-100 opened ~390 connections and spent most of its deleting phase
connecting. Counted here at a relay in front of nginx (TLS, registry:3): the connections stay
within what the client's threads can hold at once, however many HEADs are sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

from regkit.dockerconfig import Credentials
from regkit.ops.prune import PrunePolicy
from regkit.ops.prune.run import Target
from regkit.ops.prune.session import prune_targets
from regkit.registry import RegistryClient, RetryPolicy
from tests.rig import Rig, short_sha_tags
from tests.rig.ports import LOOPBACK
from tests.rig.relay import Relay

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _client(rig: Rig, host: str, jobs: int) -> RegistryClient:
    """The rig's client (credentials, CA), sent to ``host`` (the relay)."""
    assert rig.ca_file is not None
    return RegistryClient(
        host,
        credentials=Credentials(rig.username, rig.password),
        ca_file=str(rig.ca_file),
        retry=RetryPolicy(attempts=1),
        jobs=jobs,
    )


def _relay(rig: Rig) -> Relay:
    _host, port = rig.host.rsplit(":", 1)
    return Relay(LOOPBACK, (LOOPBACK, int(port)))


def test_head_requests_reuse_one_connection(rig_tls_v3: Rig, repo_prefix: str) -> None:
    """20 HEADs one after the other on one thread: one connection, not one each."""
    rig = rig_tls_v3
    rig.ensure_running()
    repo = f"{repo_prefix}/heads"
    (tag,) = short_sha_tags(1, seed=91)
    rig.pusher().push_images(repo, [tag], "oci-index", start=T0)
    with _relay(rig) as relay:
        host = f"{LOOPBACK}:{relay.port}"
        with _client(rig, host, jobs=1) as c:
            for _ in range(20):
                assert c.resolve(repo, tag) is not None
            assert c.resolve(repo, "no-such-tag") is None  # a 404 answer too
            assert c.resolve(repo, tag) is not None
        assert relay.tls_connections == 1, relay.tls_connections


def test_prune_opens_no_connection_per_request(rig_tls_v3: Rig, repo_prefix: str) -> None:
    """20 multi-arch images, keep 2, --jobs 4: 18 indexes and 36 platform manifests deleted,
    each doomed tag resolved again before its DELETE; the connections opened stay within the
    threads that send at once (the workers and the guards' side pool: 2 x jobs, plus the
    listing), where every HEAD used to cost one more."""
    rig = rig_tls_v3
    rig.ensure_running()
    repo = f"{repo_prefix}/conns"
    tags = short_sha_tags(20, seed=92)
    pusher = rig.pusher()
    pusher.push_images(repo, tags, "oci-index", start=T0)
    jobs = 4
    with _relay(rig) as relay:
        host = f"{LOOPBACK}:{relay.port}"
        with _client(rig, host, jobs=jobs) as c:
            run = prune_targets([Target(host, (repo,))], PrunePolicy(keep=2), lambda _h: c)
        assert run.complete
        assert sorted(pusher.tags(repo)) == sorted(tags[-2:])
        assert relay.tls_connections <= 2 * jobs + 2, relay.tls_connections
