#!/usr/bin/env python3
"""Wait until no earlier run of another workflow that writes the registry is still going.

Used by promote-image.yml and prune-tags.yml (standard library only). Release promotions have a
concurrency group of their own (GitHub keeps one pending run per group and cancels the older one,
so a release queued behind pushes could be dropped); they still must not write the registry while
a prune does. Each side waits for the runs of the other workflow that are not completed and have
a LOWER run id (were created first): run ids only grow, so of two runs exactly one waits for the
other, never both (no deadlock), and never for a run queued behind itself.

    python3 actions/wait-for-runs.py --workflow prune-tags.yml [--event release]
        [--timeout-minutes 60] [--interval 15]

Reads GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID and the token from GH_TOKEN (needs
``actions: read``). Exit 0 when nothing is in the way; 1 with one ``::error::`` line when the
wait times out or the API cannot be read (the job then writes nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def blocking_runs(runs: list[dict[str, Any]], my_run_id: int) -> list[dict[str, Any]]:
    """The runs that are not completed and were created before this one (lower id)."""
    return [
        run
        for run in runs
        if run.get("status") != "completed" and int(run.get("id", 0)) < my_run_id
    ]


def fetch_runs(api: str, repository: str, workflow: str, event: str | None, token: str) -> Any:
    query = {"per_page": "100", "exclude_pull_requests": "true"}
    if event:
        query["event"] = event
    url = (
        f"{api.rstrip('/')}/repos/{repository}/actions/workflows/"
        f"{urllib.parse.quote(workflow)}/runs?{urllib.parse.urlencode(query)}"
    )
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"GITHUB_API_URL {api!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the API URL
        return json.load(response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", required=True, help="workflow file name, e.g. prune-tags.yml")
    parser.add_argument("--event", help="only runs of this event (e.g. release)")
    parser.add_argument("--timeout-minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between looks")
    args = parser.parse_args(argv)
    env = os.environ
    api = env.get("GITHUB_API_URL", "https://api.github.com")
    repository = env.get("GITHUB_REPOSITORY", "")
    token = env.get("GH_TOKEN") or env.get("GITHUB_TOKEN") or ""
    try:
        my_run_id = int(env.get("GITHUB_RUN_ID", ""))
    except ValueError:
        print("::error::wait-for-runs: GITHUB_RUN_ID is not set (run it in a workflow)")
        return 1
    deadline = time.monotonic() + args.timeout_minutes * 60
    what = f"{args.workflow}" + (f" ({args.event} runs)" if args.event else "")
    while True:
        try:
            data = fetch_runs(api, repository, args.workflow, args.event, token)
        except (urllib.error.URLError, OSError, ValueError) as err:
            print(
                f"::error::wait-for-runs: cannot list the runs of {what} ({err}); nothing was "
                "written: give the job 'actions: read' and run it again"
            )
            return 1
        blocking = blocking_runs(list(data.get("workflow_runs") or []), my_run_id)
        if not blocking:
            print(f"no earlier run of {what} is going: continuing", flush=True)
            return 0
        ids = ", ".join(str(run.get("id")) for run in blocking)
        if time.monotonic() >= deadline:
            print(
                f"::error::wait-for-runs: {what} run {ids} is still going after "
                f"{args.timeout_minutes:g} minutes; nothing was written: run this again later"
            )
            return 1
        print(f"waiting for {what} run {ids} to finish", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
