"""A TLS endpoint in front of the plain test server: an asyncio proxy that terminates TLS with
certificates made by trustme (the server binaries of the matrix are built without TLS).

It runs its own event loop in a thread, so worker subprocesses and blocking clients reach it
as they would a TLS-enabled Redis."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import trustme


@dataclass(frozen=True)
class Certificates:
    """Files made by trustme: a CA, a server certificate for 127.0.0.1/localhost signed by it,
    a client certificate signed by it, and a CA that signed neither."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path

    def client_params(self) -> dict[str, str]:
        """The ``ssl_*`` URL parameters of a client that verifies the server and shows its
        certificate."""
        return {
            "ssl_ca_certs": str(self.ca),
            "ssl_certfile": str(self.client_cert),
            "ssl_keyfile": str(self.client_key),
        }


def make_certificates(folder: Path) -> Certificates:
    """Write a fresh CA and its certificates into ``folder``."""
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("taskgen-tests@example.com")
    made = Certificates(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        wrong_ca=folder / "wrong-ca.pem",
    )
    ca.cert_pem.write_to_path(str(made.ca))
    server_cert.cert_chain_pems[0].write_to_path(str(made.server_cert))
    server_cert.private_key_pem.write_to_path(str(made.server_key))
    client_cert.cert_chain_pems[0].write_to_path(str(made.client_cert))
    client_cert.private_key_pem.write_to_path(str(made.client_key))
    trustme.CA().cert_pem.write_to_path(str(made.wrong_ca))
    return made


@dataclass(frozen=True)
class TlsEndpoint:
    """Where the proxy listens, and the files a client needs to reach it."""

    port: int
    ca: Path
    client_cert: Path
    client_key: Path
    #: A CA that did not sign the server's certificate.
    wrong_ca: Path

    def url(self, *, db: int = 0, **params: str) -> str:
        """A ``rediss://`` URL to the proxy with these ``ssl_*`` query parameters."""
        query = f"?{urlencode(params)}" if params else ""
        return f"rediss://127.0.0.1:{self.port}/{db}{query}"

    def verified_url(self, db: int = 0) -> str:
        """The URL with the CA, the client certificate and verification on."""
        return self.url(
            db=db,
            ssl_ca_certs=str(self.ca),
            ssl_certfile=str(self.client_cert),
            ssl_keyfile=str(self.client_key),
            ssl_cert_reqs="required",
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@contextmanager
def tls_proxy(plain_url: str, folder: Path) -> Iterator[TlsEndpoint]:
    """Terminate TLS (client certificate required) in front of ``plain_url``."""
    target = urlsplit(plain_url)
    made = make_certificates(folder)
    files = {
        "ca": made.ca,
        "client_cert": made.client_cert,
        "client_key": made.client_key,
        "wrong_ca": made.wrong_ca,
    }
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(made.server_cert, made.server_key)
    context.load_verify_locations(made.ca)
    context.verify_mode = ssl.CERT_REQUIRED

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        except OSError:
            writer.close()
            return
        # Closing the proxy cancels the pipes: that ends the relay quietly.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(relay, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=5)
    )
    port: int = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="tls-proxy")
    thread.start()
    try:
        yield TlsEndpoint(port=port, **files)
    finally:

        async def close() -> None:
            server.close()
            relays = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in relays:
                task.cancel()
            # Awaited, not only cancelled: a pending task left to the garbage collector is
            # reported from a finalizer, at whatever moment the collector runs.
            await asyncio.gather(*relays, return_exceptions=True)
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
