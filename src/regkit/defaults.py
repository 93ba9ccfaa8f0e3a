"""The defaults every layer shares, written once.

``regkit.registry.options.Options`` (what ``RegistryClient`` and ``Transport`` take),
``regkit.ops.ConnectOptions`` (an ``Options`` for the CLI, the actions and the API) and the
GitHub packages client all read them from here, so a change of a default
is one line.

The limits below bound what a registry sends (SECURITY.md, "Limits"): each one, when reached,
ends the operation with one error line naming it (``regkit.errors.LimitExceededError``).
"""

from __future__ import annotations

KiB = 1024
MiB = 1024 * KiB

#: Requests in flight at once per registry (``--jobs``, input ``jobs``).
JOBS = 16

#: The SOPS file of the team's registry credentials (the first that exists; the second is its
#: former name), and its keys (``regkit login``, the registry-login action).
SECRETS_FILES = ("secrets/infra.yml", "secrets/infrastructure-secrets.yml")
USERNAME_KEY = "registry_username"
PASSWORD_KEY = "registry_password"  # noqa: S105 - a key name
REGISTRY_KEY = "registry_domain"

#: Seconds one request may take (``--timeout``): connecting, sending, the answer's head and a
#: body read into memory, all together (the deadline); and the longest silence on a
#: connection. A streamed blob (copy, promote) is not bound by the deadline but must keep
#: moving: each 256 KiB of it (``STREAM_CHUNK`` in ``regkit.registry.client``) within it.
TIMEOUT = 30.0
#: Seconds to open a connection (TCP and TLS), within ``TIMEOUT`` when that is shorter: a
#: wrong host or port says so quickly.
CONNECT_TIMEOUT = 10.0

#: A manifest or index body (distribution refuses to store larger ones).
MAX_MANIFEST_BYTES = 4 * MiB
#: An image config (or another small blob read into memory).
MAX_CONFIG_BYTES = 8 * MiB
#: One page of ``tags/list`` or ``_catalog`` (distribution 2.8 answers a whole tag list in one).
MAX_LIST_BYTES = 16 * MiB
#: Any other answer read into memory (``/v2/``, a token, the answer to a write).
MAX_BODY_BYTES = 1 * MiB
#: An error answer: read up to this much for its message, the rest is dropped unread.
MAX_ERROR_BYTES = 64 * KiB
#: Pages of one tag list or catalog.
MAX_PAGES = 1000
#: Names in one tag list or catalog.
MAX_ITEMS = 100_000
#: Nesting of arrays and objects in any JSON document from a registry.
MAX_JSON_DEPTH = 64
#: Referrers of one digest (signatures, attestations, SBOMs): the referrers API's list, what a
#: ``sha256-<hex>`` tag index lists, and the ``sha256-<hex>.<suffix>`` tags naming it, each of
#: them one manifest to read (counted before any is read). A real image has a handful.
MAX_REFERRERS = 1000
#: Levels of referrers followed below an image by copy, sync and promote: its referrers (1), a
#: referrer of one of them (2: a signed SBOM's signature), and so on. Deeper ones end the copy
#: with the limit's error line.
MAX_REFERRER_DEPTH = 4


def size_text(size: int) -> str:
    """``4 MiB``, ``64 KiB`` or ``100 bytes``: a limit as an error line names it."""
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    if size >= KiB and size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} bytes"


__all__ = [
    "CONNECT_TIMEOUT",
    "JOBS",
    "MAX_BODY_BYTES",
    "MAX_CONFIG_BYTES",
    "MAX_ERROR_BYTES",
    "MAX_ITEMS",
    "MAX_JSON_DEPTH",
    "MAX_LIST_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_PAGES",
    "MAX_REFERRERS",
    "MAX_REFERRER_DEPTH",
    "TIMEOUT",
    "size_text",
]
