"""TLS failures that retrying cannot mend.

``rediss://`` URLs carry their TLS settings as query parameters, which redis-py reads for every
connection taskgen opens (``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
``ssl_cert_reqs``, ``ssl_check_hostname``). A server certificate that fails verification, or a
handshake the server rejects, is a configuration error: a worker that retried it as an outage
would wait forever, so it refuses to start with a ``TlsRefused`` that says what to set.
"""

from __future__ import annotations

import ssl

from taskgen.errors import TaskgenError
from taskgen.runtime.faults import redact


class TlsRefused(TaskgenError):
    """TLS to Redis failed its certificate checks: a setting to fix, not an outage."""


def tls_refusal(exc: BaseException, url: str) -> TlsRefused | None:
    """The refusal ``exc`` stands for when connecting to ``url`` failed on TLS, else None."""
    cause = _ssl_cause(exc)
    if cause is None:
        return None
    reason = " ".join((cause.reason or str(cause)).lower().replace("_", " ").split())
    detail = getattr(cause, "verify_message", None) or reason
    where = redact(url).partition("?")[0]
    if isinstance(cause, ssl.SSLCertVerificationError):
        hint = (
            "set ssl_ca_certs=<file> in the URL to the CA that signed the server's certificate "
            "(and connect by the name or address the certificate names)"
        )
        return TlsRefused(
            f"TLS to {where} failed: the server's certificate did not verify ({detail}): {hint}"
        )
    hint = (
        "if the server asks for a client certificate, set ssl_certfile=<file> and "
        "ssl_keyfile=<file> in the URL; check that the server speaks TLS on this port"
    )
    return TlsRefused(f"TLS to {where} failed: {detail}: {hint}")


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` behind ``exc`` (redis-py wraps it in its ConnectionError)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
