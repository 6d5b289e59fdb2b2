"""FTP (ftplib) and explicit FTPS (ftplib.FTP_TLS, PROT P, TLS session reuse)."""

from __future__ import annotations

import contextlib
import ftplib
import functools
import json
import shlex
import socket
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from ..errors import (
    AuthError,
    ClientError,
    NetworkError,
    NotFound,
    PermissionDenied,
    TransientError,
    Unsupported,
    UsageError,
)
from ..trust import check_certificate
from .base import CHUNK, CONTROL_FTP_SITE, READ_CHUNK, Progress, RemoteEntry, Transport


def _mkd(ftp: ftplib.FTP, path: str) -> str:
    return ftp.mkd(path)


class _SessionReusingFTP_TLS(ftplib.FTP_TLS):
    """Data connections resume the control connection's TLS session, as servers that
    require it (vsftpd's require_ssl_reuse, FileZilla Server, ProFTPD) insist."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None):  # type: ignore[override]
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if getattr(self, "_prot_p", False):  # ftplib's PROT P flag (no public one)
            assert isinstance(self.sock, ssl.SSLSocket)
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


def _translate(exc: BaseException, what: str) -> ClientError:
    """The one place FTP errors become client errors."""
    if isinstance(exc, ClientError):
        return exc
    text = str(exc).strip()
    if isinstance(exc, ftplib.error_perm):
        code = text[:3]
        if code == "530":
            return AuthError(
                f"login refused by the server ({text}): check the user name and password"
            )
        if "no such" in text.lower() or "not found" in text.lower():
            return NotFound(f"{what}: not on the server")
        if code in ("550", "553", "532"):
            return PermissionDenied(f"{what}: refused by the server ({text})")
        if code == "552":
            return ClientError(f"{what}: the server is out of space or over quota ({text})")
        return ClientError(f"{what}: {text}")
    if isinstance(exc, ftplib.error_temp):
        return TransientError(f"{what}: the server is busy or going away ({text})")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TransientError(f"{what}: timed out")
    if isinstance(exc, ConnectionRefusedError):
        return TransientError(f"{what}: connection refused (is the server running?)")
    if isinstance(
        exc,
        (ConnectionError, EOFError, ssl.SSLError, ftplib.error_reply, ftplib.error_proto, OSError),
    ):
        return TransientError(f"{what}: connection failed ({text or type(exc).__name__})")
    return ClientError(f"{what}: {text}")


def _parse_facts(line: str, parent: str) -> RemoteEntry:
    facts_text, _, name = line.partition(" ")
    facts = {}
    for fact in facts_text.split(";"):
        if "=" in fact:
            k, v = fact.split("=", 1)
            facts[k.lower()] = v
    name = name.strip()
    path = name if name.startswith("/") else f"{parent.rstrip('/')}/{name}"
    mtime = None
    if "modify" in facts:
        with contextlib.suppress(ValueError):
            mtime = (
                datetime.strptime(facts["modify"][:14], "%Y%m%d%H%M%S")
                .replace(tzinfo=UTC)
                .timestamp()
            )
    return RemoteEntry(
        name=path.rstrip("/").rsplit("/", 1)[-1],
        path=path,
        is_dir=facts.get("type", "").lower() in ("dir", "cdir", "pdir"),
        size=int(facts["size"]) if "size" in facts else None,
        mtime=mtime,
    )


class FTPTransport(Transport):
    scheme = "ftp"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ftp: ftplib.FTP | None = None
        self._feat: set[str] | None = None

    def _end_data(self, conn: socket.socket, path: str) -> None:
        """Close a finished data connection (TLS shut down first) and read the reply."""
        with contextlib.suppress(OSError, ValueError):
            if isinstance(conn, ssl.SSLSocket):
                conn.unwrap()
        conn.close()
        self._call(path, lambda ftp: ftp.voidresp())

    # -- connection --------------------------------------------------------------------

    def _new_client(self) -> ftplib.FTP:
        return ftplib.FTP()

    def connect(self) -> None:
        self.close()
        where = self.endpoint.url
        ftp = self._new_client()
        try:
            ftp.connect(self.endpoint.host, self.endpoint.port, timeout=self.timeout)
            self._secure(ftp)
            ftp.login(self.endpoint.user, self._password)
            self._after_login(ftp)
            ftp.voidcmd("TYPE I")
        except BaseException as exc:
            with contextlib.suppress(Exception):
                ftp.close()
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise _translate(exc, where) from exc
        self.ftp = ftp

    def _secure(self, ftp: ftplib.FTP) -> None:
        """Before login: nothing for plain FTP."""

    def _after_login(self, ftp: ftplib.FTP) -> None:
        """After login: nothing for plain FTP."""

    def _client(self) -> ftplib.FTP:
        if self.ftp is None:
            self.connect()
        assert self.ftp is not None
        return self.ftp

    def close(self) -> None:
        ftp, self.ftp = self.ftp, None
        if ftp is None:
            return
        try:
            ftp.quit()
        except Exception:
            with contextlib.suppress(Exception):
                ftp.close()

    def _drop(self) -> None:
        """Forget a connection in an unknown state; the next call reconnects."""
        ftp, self.ftp = self.ftp, None
        if ftp is not None:
            with contextlib.suppress(Exception):
                ftp.close()

    def _call(self, what: str, fn: Callable[[ftplib.FTP], object]) -> object:
        try:
            return fn(self._client())
        except ClientError:
            raise
        except ftplib.error_perm as exc:
            raise _translate(exc, what) from exc
        except Exception as exc:
            self._drop()
            raise _translate(exc, what) from exc

    # -- operations --------------------------------------------------------------------

    def list(self, path: str) -> list[RemoteEntry]:
        self.ops["list"] += 1
        lines: list[str] = []

        def run(ftp: ftplib.FTP) -> None:
            ftp.retrlines(f"MLSD {path}", lines.append)

        self._call(path, run)
        entries = [_parse_facts(line, path) for line in lines if line.strip()]
        return sorted((e for e in entries if e.name not in (".", "..")), key=lambda e: e.name)

    def stat(self, path: str) -> RemoteEntry:
        self.ops["stat"] += 1
        resp = str(self._call(path, lambda ftp: ftp.sendcmd(f"MLST {path}")))
        for line in resp.splitlines()[1:]:
            if line.startswith(" "):
                entry = _parse_facts(line.strip(), "/")
                return RemoteEntry(entry.name, path, entry.is_dir, entry.size, entry.mtime)
        raise NotFound(f"{path}: not on the server")

    def read(self, path: str, offset: int = 0) -> Iterator[bytes]:
        self.ops["read"] += 1
        conn = self._call(path, lambda ftp: ftp.transfercmd(f"RETR {path}", rest=offset or None))
        assert isinstance(conn, socket.socket)
        finished = False
        try:
            while True:
                try:
                    data = conn.recv(READ_CHUNK)
                except Exception as exc:
                    raise _translate(exc, path) from exc
                if not data:
                    break
                self.bytes_in += len(data)
                yield data
            self._end_data(conn, path)
            finished = True
        finally:
            if not finished:  # the consumer stopped early, or the transfer failed
                with contextlib.suppress(Exception):
                    conn.close()
                self._drop()

    def _size(self, path: str) -> int | None:
        self.ops["stat"] += 1
        try:
            resp = str(self._call(path, lambda ftp: ftp.sendcmd(f"SIZE {path}")))
        except (NotFound, PermissionDenied):
            return None
        return int(resp.split()[1]) if resp.startswith("213") else None

    def resume_offset(self, path: str) -> int:
        resumable = self._size(path)
        if not resumable:
            return 0
        try:
            existing = self.stat(path).size
        except NotFound:
            return resumable
        # SIZE shows our interrupted upload when there is one, else the file itself
        return 0 if existing == resumable else resumable

    def write(self, path: str, src: BinaryIO, offset: int, progress: Progress | None) -> int:
        self.ops["write"] += 1
        src.seek(offset)
        conn = self._call(path, lambda ftp: ftp.transfercmd(f"STOR {path}", rest=offset or None))
        assert isinstance(conn, socket.socket)
        sent = 0
        finished = False
        try:
            while chunk := src.read(CHUNK):
                try:
                    conn.sendall(chunk)
                except Exception as exc:
                    raise _translate(exc, path) from exc
                sent += len(chunk)
                self.bytes_out += len(chunk)
                if progress:
                    progress(len(chunk))
            self._end_data(conn, path)
            finished = True
        finally:
            if not finished:
                with contextlib.suppress(Exception):
                    conn.close()
                self._drop()
        return sent

    def mkdirs(self, path: str) -> None:
        parts = [p for p in path.strip("/").split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            try:
                entry = self.stat(current)
            except NotFound:
                entry = None
            if entry is None:
                self.ops["mkdir"] += 1
                self._call(current, functools.partial(_mkd, path=current))
            elif not entry.is_dir:
                raise ClientError(f"{current} is a file, not a folder")

    def _features(self) -> set[str]:
        if self._feat is None:
            try:
                resp = str(self._call("FEAT", lambda ftp: ftp.sendcmd("FEAT")))
            except ClientError:
                resp = ""
            self._feat = {line.strip().split(" ")[0].upper() for line in resp.splitlines()[1:]}
        return self._feat

    def remote_sha256(self, path: str) -> str | None:
        if "HASH" not in self._features():
            return None
        self.ops["hash"] += 1
        try:
            self._call(path, lambda ftp: ftp.sendcmd("OPTS HASH SHA-256"))
            resp = str(self._call(path, lambda ftp: ftp.sendcmd(f"HASH {path}")))
        except ClientError:
            return None
        parts = resp.split()
        return parts[3].lower() if len(parts) >= 4 and parts[1].upper() == "SHA-256" else None

    def control(self, command: str, *args: str) -> dict[str, Any]:
        self.ops["control"] += 1
        line = f"SITE {CONTROL_FTP_SITE} {shlex.join([command, *args])}"

        def ask(ftp: ftplib.FTP) -> str:
            try:
                return ftp.sendcmd(line)
            except ftplib.error_perm as exc:
                text = str(exc).strip()
                if text.startswith("500"):
                    raise Unsupported(
                        f"{self.endpoint.url} has no control channel (not an Ortak pool, "
                        f"or an older one): {text}"
                    )
                if text.startswith("501"):
                    raise UsageError(f"{command}: {text[4:]}")
                raise

        return parse_control_reply(str(self._call(command, ask)), command)


def parse_control_reply(reply: str, command: str) -> dict[str, Any]:
    """The JSON object of a `SITE ORTAK` multi-line 200 reply: its middle lines, each
    without its leading space, joined."""
    lines = reply.split("\n")
    body = "".join(line[1:] for line in lines[1:-1])
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ClientError(f"{command}: the server's answer is not a JSON object: {reply[:200]!r}")
    return answer


class FTPSTransport(FTPTransport):
    """Explicit TLS: AUTH TLS, PBSZ 0, PROT P; the certificate pinned on first use."""

    scheme = "ftps"

    def _new_client(self) -> ftplib.FTP:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # pinned below instead (pools use their own CA)
        return _SessionReusingFTP_TLS(context=ctx)

    def _secure(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        ftp.auth()
        assert isinstance(ftp.sock, ssl.SSLSocket)
        der = ftp.sock.getpeercert(binary_form=True)
        if not der:
            raise NetworkError(f"{self.endpoint.url}: the server sent no TLS certificate")
        check_certificate(
            self.config_folder, self.endpoint.host, self.endpoint.port, der, self.notify
        )

    def _after_login(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        ftp.prot_p()
