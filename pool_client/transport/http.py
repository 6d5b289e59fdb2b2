"""HTTP and HTTPS (httpx) against the pool's web door: the same paths as FTP and SFTP,
read through `/api/v1/files/...` and `/api/v1/feed/...` with Range for resuming.

Login: an API token given as the password (``ortak_...``, from `pool-server token
create`) goes as `Authorization: Bearer`; anything else logs in once through
`/api/v1/login` and keeps the session cookie. HTTPS certificates are pinned on first
use exactly like FTPS ones (`known_certs`): the pinned certificate is then the only one
trusted for that host and port.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from ..errors import (
    AuthError,
    ClientError,
    NetworkError,
    NotFound,
    PermissionDenied,
    TransientError,
    UsageError,
)
from ..trust import check_certificate
from .base import READ_CHUNK, Progress, RemoteEntry, Transport
from .tus import Resumes, TusError, TusUploader

TOKEN_PREFIX = "ortak_"
TUS_STATE = "tus-uploads.json"
"""Upload URLs of unfinished uploads over http(s), in the config folder (0600)."""
FEED_PREFIX = "/.catalog/"


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error") or response.reason_phrase)
    except ValueError:
        return response.reason_phrase


def _check(response: httpx.Response, what: str) -> httpx.Response:
    """The one place HTTP statuses become client errors."""
    code = response.status_code
    if code < 400:
        return response
    text = _message(response)
    if code == 401:
        raise AuthError(f"login refused by the server ({text}): check the user name and password")
    if code == 403:
        raise PermissionDenied(f"{what}: refused by the server ({text})")
    if code == 404:
        raise NotFound(f"{what}: not on the server")
    if code == 400:
        raise UsageError(f"{what}: {text}")
    if code in (408, 429, 502, 503, 504):
        raise TransientError(f"{what}: the server is busy or going away ({code} {text})")
    raise ClientError(f"{what}: {code} {text}")


def _tus_error(err: TusError, what: str) -> ClientError:
    """A refused tus request as the client's errors (the statuses `_check` maps, plus
    the ones tus adds)."""
    if err.status in (409, 460):  # the offset moved or a chunk arrived damaged: again
        return TransientError(f"{what}: {err} (will retry from the pool's offset)")
    if err.status == 413:
        return ClientError(f"{what}: refused by the pool ({err})")
    if err.status == 410:
        return TransientError(f"{what}: the unfinished upload expired; starting again")
    try:
        _check(httpx.Response(err.status, json={"error": str(err)}), what)
    except ClientError as mapped:
        return mapped
    return ClientError(f"{what}: {err.status} {err}")


def _translate(exc: BaseException, what: str) -> ClientError:
    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{what}: timed out")
    if isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
        return TransientError(f"{what}: connection refused (is the server running?)")
    if isinstance(exc, (httpx.TransportError, ConnectionError, ssl.SSLError, OSError)):
        return TransientError(f"{what}: connection failed ({exc or type(exc).__name__})")
    return ClientError(f"{what}: {exc}")


class HTTPTransport(Transport):
    scheme = "http"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: httpx.Client | None = None

    # --- connecting

    def _tls_context(self) -> ssl.SSLContext:
        """Fetch the server's certificate, pin it (trust on first use), and trust only it."""
        host, port = self.endpoint.host, self.endpoint.port
        probe = ssl.create_default_context()
        probe.check_hostname = False
        probe.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection((host, port), timeout=self.timeout) as raw,
            probe.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        if not der:
            raise NetworkError(f"{self.endpoint.url}: the server sent no TLS certificate")
        check_certificate(self.config_folder, host, port, der, self.notify)
        ctx = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
        ctx.check_hostname = False  # the pin, not the name, identifies the pool
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return ctx

    def connect(self) -> None:
        self.close()
        where = self.endpoint.url
        try:
            verify: ssl.SSLContext | bool = (
                self._tls_context() if self.endpoint.scheme == "https" else False
            )
            headers = {"User-Agent": "ortak-pool"}
            if self._password.startswith(TOKEN_PREFIX):
                headers["Authorization"] = f"Bearer {self._password}"
            client = httpx.Client(
                base_url=where, verify=verify, timeout=self.timeout, headers=headers
            )
            try:
                if self._password.startswith(TOKEN_PREFIX):
                    _check(client.get("/api/v1/me"), where)
                else:
                    r = client.post(
                        "/api/v1/login",
                        json={"username": self.endpoint.user, "password": self._password},
                    )
                    _check(r, where)
                    client.headers["X-CSRF-Token"] = r.json()["csrf"]
            except BaseException:
                client.close()
                raise
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise _translate(exc, where) from exc
        self.client = client

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _client(self) -> httpx.Client:
        if self.client is None:
            self.connect()
        assert self.client is not None
        return self.client

    def _fail(self, exc: BaseException, what: str) -> ClientError:
        err = _translate(exc, what)
        if isinstance(err, TransientError):
            self.close()
        return err

    @staticmethod
    def _url(path: str) -> str:
        path = "/" + path.lstrip("/")
        if path.startswith(FEED_PREFIX):
            return "/api/v1/feed/" + quote(path[len(FEED_PREFIX) :])
        return "/api/v1/files/" + quote(path.lstrip("/"))

    def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            r = self._client().get(self._url(path), params=params)
        except Exception as exc:
            raise self._fail(exc, path) from exc
        return dict(_check(r, path).json())

    # --- reading

    def list(self, path: str) -> list[RemoteEntry]:
        self.ops["list"] += 1
        info = self._get_json(path.rstrip("/") or "/", {})
        if not info.get("is_dir"):
            raise ClientError(f"{path} is a file, not a folder")
        return [
            RemoteEntry(e["name"], e["path"], e["is_dir"], e.get("size"), e.get("mtime"))
            for e in info["entries"]
        ]

    def stat(self, path: str) -> RemoteEntry:
        self.ops["stat"] += 1
        e = self._get_json(path, {"stat": "1"})
        return RemoteEntry(e["name"], e["path"], e["is_dir"], e.get("size"), e.get("mtime"))

    def read(self, path: str, offset: int = 0) -> Iterator[bytes]:
        self.ops["read"] += 1
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self._client().stream("GET", self._url(path), headers=headers) as r:
                if r.status_code == 416:
                    return  # nothing after `offset`
                if r.status_code >= 400:
                    r.read()
                _check(r, path)
                if offset and r.status_code != 206:
                    raise ClientError(
                        f"{path}: the server ignored the range (status {r.status_code})"
                    )
                for chunk in r.iter_bytes(READ_CHUNK):
                    self.bytes_in += len(chunk)
                    yield chunk
        except ClientError:
            raise
        except Exception as exc:
            raise self._fail(exc, path) from exc

    # --- writing: tus 1.0.0 at /api/v1/uploads/ (resumable across runs, see tus.py)

    def _tus(self) -> TusUploader:
        ident = f"{self.endpoint.url}|{self.endpoint.user}"
        return TusUploader(self._client(), Resumes(self.config_folder / TUS_STATE), ident)

    def resume_offset(self, path: str) -> int:
        try:
            return self._tus().offset(path, None)[1]
        except TusError as err:
            raise _tus_error(err, path) from None
        except ClientError:
            raise
        except Exception as exc:
            raise self._fail(exc, path) from exc

    def write(self, path: str, src: BinaryIO, offset: int, progress: Progress | None) -> int:
        self.ops["write"] += 1

        def counted(n: int) -> None:
            self.bytes_out += n
            if progress is not None:
                progress(n)

        try:
            return self._tus().send(path, src, offset, counted)
        except TusError as err:
            raise _tus_error(err, path) from None
        except ClientError:
            raise
        except Exception as exc:
            raise self._fail(exc, path) from exc

    def mkdirs(self, path: str) -> None:
        """Nothing to do: the pool makes an upload's folders as it creates the upload
        (through the same access table), so a folder the user may not use is refused
        with the upload itself."""
        self.ops["mkdir"] += 1

    def control(self, command: str, *args: str) -> dict[str, Any]:
        import shlex

        self.ops["control"] += 1
        try:
            r = self._client().post("/api/v1/control", json={"line": shlex.join([command, *args])})
        except Exception as exc:
            raise self._fail(exc, command) from exc
        return dict(_check(r, command).json())


class HTTPSTransport(HTTPTransport):
    scheme = "https"
