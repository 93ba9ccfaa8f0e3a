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

The token goes to the API's own origin only (regkit's origin rule, in a standard-library
copy: this step runs before regkit is installed): GITHUB_API_URL must be https:// (plain http
only on a loopback host, the tests' fake); a redirect to another origin is followed without
the token, an http:// redirect target off loopback is refused. A 5xx answer or a broken
connection is retried (``RETRIES`` more times, ``RETRY_DELAYS`` seconds apart); a 403/404 is
a missing permission (``actions: read``) and is not retried.
"""

from __future__ import annotations

import argparse
import ipaddress
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


#: Waits before the retries of a 5xx answer or a broken connection (so 3 retries at most).
RETRY_DELAYS = (2.0, 5.0, 10.0)
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class ApiError(Exception):
    """The runs could not be listed: ``status`` (None: no answer), ``retry``: transient."""

    def __init__(self, message: str, status: int | None = None, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry = retry


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, the default port made explicit (ValueError: no URL)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port  # ValueError when out of range
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme, 0)
    return scheme, (parts.hostname or "").lower(), port


def allowed(url: str) -> bool:
    """https://, or http:// to a loopback host (the tests' fake GitHub)."""
    try:
        scheme, host, _ = origin(url)
    except ValueError:
        return False
    return bool(host) and (scheme == "https" or (scheme == "http" and _loopback(host)))


class _OwnOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects: the token only to the origin of the first request; no plain http off
    loopback."""

    def __init__(self, home: tuple[str, str, int]) -> None:
        self.home = home

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if not allowed(newurl):
            raise ApiError(f"the API redirected to a URL that is not https:// (HTTP {code})")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and origin(newurl) != self.home:
            for name in list(new.headers):
                if name.lower() == "authorization":
                    del new.headers[name]
            new.unredirected_hdrs.pop("Authorization", None)
        return new


def fetch_runs(api: str, repository: str, workflow: str, event: str | None, token: str) -> Any:
    query = {"per_page": "100", "exclude_pull_requests": "true"}
    if event:
        query["event"] = event
    url = (
        f"{api.rstrip('/')}/repos/{repository}/actions/workflows/"
        f"{urllib.parse.quote(workflow)}/runs?{urllib.parse.urlencode(query)}"
    )
    if not allowed(url):
        raise ApiError(
            f"GITHUB_API_URL {api[:100]!r} is not an https:// URL; the token goes over HTTPS only"
        )
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        headers={
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    # Unredirected: urllib never copies it onto a redirect; _OwnOriginRedirects decides.
    request.add_unredirected_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(_OwnOriginRedirects(origin(url)))
    try:
        with opener.open(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        raise ApiError(
            f"the API answered HTTP {err.code}", err.code, retry=err.code in RETRY_STATUSES
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ApiError(f"no answer from the API ({type(reason).__name__})", retry=True) from None
    except ValueError:
        raise ApiError("the API answered something that is not JSON") from None


def fetch_with_retries(
    api: str, repository: str, workflow: str, event: str | None, token: str
) -> Any:
    for delay in (*RETRY_DELAYS, None):
        try:
            return fetch_runs(api, repository, workflow, event, token)
        except ApiError as err:
            if not err.retry or delay is None:
                raise
            print(f"wait-for-runs: {err}; retrying in {delay:g} s", flush=True)
            time.sleep(delay)
    raise AssertionError("unreachable")


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
            data = fetch_with_retries(api, repository, args.workflow, args.event, token)
        except ApiError as err:
            hint = (
                "give the job 'actions: read' and run it again"
                if err.status in (403, 404)
                else "run it again"
            )
            print(
                f"::error::wait-for-runs: cannot list the runs of {what} ({err}); nothing was "
                f"written: {hint}"
            )
            return 1
        runs = data.get("workflow_runs") if isinstance(data, dict) else None
        if not isinstance(runs, list):
            print(
                f"::error::wait-for-runs: cannot list the runs of {what} (the API answered "
                "no workflow_runs list); nothing was written: run it again"
            )
            return 1
        blocking = blocking_runs([r for r in runs if isinstance(r, dict)], my_run_id)
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
