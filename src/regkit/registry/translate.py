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


def translate(
    err: BaseException, host: str, tries: Tries | None = None, *, ca_file: str | None = None
) -> RegistryError:
    """A transport exception as the RegistryError a user can act on. ``ca_file``: the CA file
    the user gave (a failed verification then names it instead of asking for one)."""
    return with_tries(_translate(err, host, ca_file), tries)


def _translate(err: BaseException, host: str, ca_file: str | None = None) -> RegistryError:
    text = str(err) or type(err).__name__
    if is_cert_error(err):
        return cert_refused(host, text, ca_file)
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


def cert_refused(host: str, text: str, ca_file: str | None) -> TLSError:
    """The server's certificate failed verification. Only an untrusted issuer with no CA file
    given carries ``Hint.CA_FILE`` (the adapters say "pass --ca-file"/"set the ca-file input"):
    a certificate for another name, or one that expired, is not fixed by a CA; and when a CA
    file was given, asking for one is no help: the certificate does not match the host or that
    CA, and the message names the file."""
    why = f"({short(text)})"
    lowered = text.lower()
    if "mismatch" in lowered or "not valid for" in lowered:
        return TLSError(
            f"TLS verification failed for {host}: its certificate is not valid for this host "
            f"name {why}; connect with a name the certificate lists, or fix the server's "
            "certificate"
        )
    if "expired" in lowered:
        return TLSError(
            f"TLS verification failed for {host}: its certificate has expired {why}; renew the "
            "server's certificate"
        )
    if ca_file:
        return TLSError(
            f"TLS verification failed for {host}: its certificate does not match the host or "
            f"the CA in {ca_file} {why}; check that {ca_file} holds the CA that signed the "
            f"server's certificate (openssl s_client -connect {host} -CAfile {ca_file})"
        )
    return TLSError(
        f"TLS verification failed for {host}: the certificate is not trusted {why}",
        hint=Hint.CA_FILE,
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
    "cert_refused",
    "forbidden",
    "is_cert_error",
    "is_plain_http_answer",
    "plain_http_refused",
    "short",
    "translate",
]
