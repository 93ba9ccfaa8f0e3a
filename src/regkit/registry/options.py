"""How to reach one registry: the connection options, declared once.

``Options`` is what ``RegistryClient`` and ``Transport`` take (go-containerregistry's model:
one options type, ``remote/options.go``); ``regkit.ops.ConnectOptions`` (the CLI, the actions
and the API) is an ``Options`` that also says where credentials come from. Every default is
read from ``regkit.defaults``, written there once::

    RegistryClient("registry.example.com", Options(jobs=4, timeout=10))
    RegistryClient("registry.example.com", jobs=4, timeout=10)  # the same, as keywords

``transport`` swaps the network for an ``httpx.BaseTransport``, e.g. ``httpx.MockTransport``
in a unit test. Everything above the network still applies to it: the scheme probe (HTTPS,
plain HTTP only for loopback hosts or ``insecure``), the origin rule, redirects followed by
hand, retries, the deadline's clock and every size, page and nesting limit. What a transport
does with TLS (``ca_file``, ``insecure``'s verification), HTTP/2 and connection pooling is its
own: an injected one is closed with the client.
"""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, TypedDict

from regkit import defaults

if TYPE_CHECKING:
    import httpx

    from regkit.dockerconfig import Credentials
    from regkit.registry.cache import ContentCache
    from regkit.registry.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class Options:
    """The connection options of one registry client (all optional, defaults in
    ``regkit.defaults``).

    ``ca_file``: a private CA (PEM) added to the system store; ``insecure``: plain HTTP to
    any host and no TLS verification; ``jobs``: requests in flight at once (threads of
    ``RegistryClient.map``); ``timeout``: seconds one request may take, and the longest
    silence on a connection; ``verbose``: 1 logs each request on stderr. Keyword-only:
    ``credentials`` (Basic, or for a token), ``retry`` (None: ``RetryPolicy()``), ``http2``
    (None: ``REGKIT_HTTP2``), ``cache`` (manifests and configs by digest, opt-in),
    ``transport`` (an ``httpx.BaseTransport`` instead of the network), ``quiet`` (no retry
    notices on a terminal: the CLI's ``--quiet``; ``REGKIT_QUIET`` in the environment counts
    too).
    """

    ca_file: str | None = None
    insecure: bool = False
    jobs: int = defaults.JOBS
    timeout: float = defaults.TIMEOUT
    verbose: int = 0
    _: KW_ONLY
    credentials: Credentials | None = None
    retry: RetryPolicy | None = None
    http2: bool | None = None
    cache: ContentCache | None = None
    transport: httpx.BaseTransport | None = None
    quiet: bool = False

    def registry_options(self) -> Options:
        """These options as a plain ``Options``: a subclass's own fields (``ConnectOptions``'s
        username, password and Docker config) left behind."""
        return Options(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Options)})


class OptionsArgs(TypedDict, total=False):
    """``Options``' fields as keyword arguments (``RegistryClient(host, jobs=4)``); no defaults
    here: what is not given comes from ``Options``. A test keeps both lists the same."""

    credentials: Credentials | None
    ca_file: str | None
    insecure: bool
    jobs: int
    timeout: float
    retry: RetryPolicy | None
    verbose: int
    http2: bool | None
    cache: ContentCache | None
    transport: httpx.BaseTransport | None
    quiet: bool


#: ``Options()``: every default.
DEFAULT = Options()


def options_of(options: Options | None, changes: OptionsArgs) -> Options:
    """``options`` (a plain ``Options``; None: the defaults) with the keyword arguments
    ``changes`` over it."""
    base = DEFAULT if options is None else options
    if type(base) is not Options:
        base = base.registry_options()
    return dataclasses.replace(base, **changes) if changes else base


__all__ = ["DEFAULT", "Options", "OptionsArgs", "options_of"]
