"""Transport failures (httpx exceptions) as the ``RegistryError`` a user can act on.

Messages name the host and what to check, never a CLI flag: an error that a flag or an input
can fix carries a ``Hint`` (``CA_FILE``, ``INSECURE``) that the CLI and the actions turn into
their own words. A failure that ended a retried request says how many tries it took.
"""

from __future__ import annotations

import ssl

import httpx

from regkit.errors import AuthenticationError, ConnectionFailedError, Hint, RegistryError, TLSError
from regkit.registry.retry import Tries, with_tries


def is_cert_error(err: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return True
        text = str(cur)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def is_plain_http_answer(err: BaseException) -> bool:
    """The server answered a TLS ClientHello with plain HTTP (it does not speak TLS)."""
    text = repr(err) + repr(err.__cause__) + repr(err.__context__)
    return any(
        marker in text
        for marker in (
            "WRONG_VERSION_NUMBER",
            "wrong version number",
            "record layer failure",
            "packet length too long",
            "RECORD_LAYER_FAILURE",
            "http request",
        )
    )


def plain_http_refused(host: str) -> TLSError:
    return TLSError(
        f"{host} answered in plain HTTP, not HTTPS; regkit uses plain HTTP only for loopback hosts",
        hint=Hint.INSECURE,
    )


def translate(err: BaseException, host: str, tries: Tries | None = None) -> RegistryError:
    """A transport exception as the RegistryError a user can act on."""
    return with_tries(_translate(err, host), tries)


def _translate(err: BaseException, host: str) -> RegistryError:
    text = str(err) or type(err).__name__
    if is_cert_error(err):
        return TLSError(
            f"TLS verification failed for {host}: the certificate is not trusted ({short(text)})",
            hint=Hint.CA_FILE,
        )
    if isinstance(err, httpx.ConnectError) and ("SSL" in text or "TLS" in text):
        return TLSError(f"TLS handshake with {host} failed ({short(text)})")
    if isinstance(err, httpx.TimeoutException):
        return ConnectionFailedError(
            f"{host} did not answer in time ({type(err).__name__}); check the host, the port "
            "and the network, or retry later"
        )
    if isinstance(err, httpx.ConnectError):
        if (
            "Name or service not known" in text
            or "nodename nor servname" in text
            or "getaddrinfo" in text
        ):
            return ConnectionFailedError(f"cannot resolve {host}: check the registry host name")
        return ConnectionFailedError(
            f"cannot connect to {host} ({short(text)}); check the host and port and that the "
            "registry is running"
        )
    return ConnectionFailedError(
        f"connection to {host} failed ({type(err).__name__}: {short(text)})"
    )


WRITE_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})


def forbidden(
    host: str, what: str, *, method: str | None, code: str | None, detail: str = ""
) -> AuthenticationError:
    """A 403. Behind a reverse proxy (the production shape: nginx or Traefik doing TLS and
    Basic auth) it is most often the proxy's own rule, a write block (nginx ``limit_except GET
    HEAD { deny all; }``, a Traefik middleware) or an address allow-list, not the registry:
    distribution with htpasswd auth does not answer 403. So the message names both and what to
    check, never "the user lacks permission". ``detail``: the registry's own error message
    (data, shortened; the CLI escapes control characters)."""
    said = f" {code}" if code else ""
    said += f": {short(detail)}" if detail else ""
    head = (
        f"{host} denied access ({what}): 403 Forbidden{said}, from the registry or a proxy in "
        "front of it (nginx, Traefik)"
    )
    if (method or "").upper() in WRITE_METHODS:
        return AuthenticationError(
            f"{head}; if the proxy blocks writes (a write block: nginx 'limit_except GET HEAD', "
            "a Traefik middleware), write through an entry point that allows them; else check "
            "the user's write rights on the registry",
            status=403,
            code=code,
        )
    return AuthenticationError(
        f"{head}; check the proxy's access rules (allowed addresses, methods and paths) and "
        "the user's rights on the registry",
        status=403,
        code=code,
    )


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) < 160 else text[:157] + "..."


__all__ = [
    "forbidden",
    "is_cert_error",
    "is_plain_http_answer",
    "plain_http_refused",
    "short",
    "translate",
]
