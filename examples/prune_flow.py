"""The team's scheduled registry prune, as a Prefect flow, through regkit's Python API.

For every repository of the catalog: keep the 6 newest of all tags; ``match=".*"`` selects
every tag, yet ``latest``, release tags and their aliases, deploy markers (``deployed-*``), what
the app's deploy-info.yml / deploy-history.yml name, and every tag on their digests always stay
(regkit's built-in protection; ``unprotect=["latest"]`` would lift one rule by name); record
each removed tag's labels; delete by digest unless another staying tag uses the manifest; then
garbage-collect and check that every staying image is whole.

Run it on the registry host (crane is not needed). Prefect is optional: without it the flow is
a plain function (``python examples/prune_flow.py registry.example.com``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from regkit import api

try:
    from prefect import flow
except ImportError:  # Prefect not installed: the flow is a plain function

    def flow(*_args: Any, **_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return lambda fn: fn


GC = "docker exec registry registry garbage-collect /etc/distribution/config.yml"
log = logging.getLogger("registry-prune")


@flow(name="registry-prune")
def prune_registry(
    host: str,
    deploy_dir: str = "/opt/iac/deploy",
    record: str = "/var/log/regkit/prune.jsonl",
    gc: str = GC,
    storage: str | None = "/var/lib/docker-registry",
) -> api.PruneReport:
    with api.connect(host) as reg:
        report = api.prune(
            reg, all_repos=True, match=".*", keep=6, protect_dir=deploy_dir,
            record=record, then=gc, storage=storage, echo=print,
        )  # fmt: skip
    log.info("%s", report.to_text())  # the plan table and the results, as the CLI prints them
    for gone in report.pruned:  # the pruned snapshot: what each removed tag was
        log.info(
            "pruned %s: %s (revision %s, created %s, source %s)",
            gone.reference, gone.description, gone.revision, gone.created, gone.source,
        )  # fmt: skip
    report.raise_for_problems()  # the GC failed, or check found a broken image
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)  # regkit: a line per operation; requests at DEBUG
    done = prune_registry(sys.argv[1])
    print(f"removed {len(done.deleted)} tags; storage shrank by {done.shrunk_bytes} bytes")
