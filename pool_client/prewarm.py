"""Log in while Python is still importing: the connection of a network command is
opened on a thread as soon as the process starts, so its round trips (and the server's
password hashing) overlap the start-up instead of following it; `update` and `sync`
also read the feed index there (`READ_AHEAD`). A no-op `pool sync` is mostly start-up,
one login and that one read, so this is most of what it costs.

Only when everything is known without asking (the connection from a profile or
POOL_URL, the password from POOL_PASSWORD, ~/.netrc or the keyring); otherwise the
command connects as usual. Errors are kept and raised where the command would have
met them.
"""

from __future__ import annotations

import sys
import threading

from .config import Endpoint, config_dir, find_password, resolve_endpoint
from .errors import ClientError, TransientError
from .feedpath import INDEX
from .transport import Transport, make_transport

NETWORK_COMMANDS = frozenset({"update", "sync", "get", "put", "ls", "whoami"})
READ_AHEAD = {"update": (INDEX,), "sync": (INDEX,)}
"""What a command reads first, whatever its options: read while it is still starting."""
_GLOBAL_WITH_VALUE = frozenset({"--profile"})


def _say(message: str) -> None:
    from .output import printable  # only when there is something to say

    print(printable(message, newlines=True), file=sys.stderr)


class Prewarm:
    def __init__(self, endpoint: Endpoint, password: str, read_ahead: tuple[str, ...] = ()) -> None:
        self.endpoint, self.password = endpoint, password
        self._read_ahead = read_ahead
        self.transport: Transport = make_transport(endpoint, password, config_dir(), _say)
        self.error: ClientError | None = None
        self._thread = threading.Thread(target=self._run, name="pool-prewarm", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.transport.connect()
        except ClientError as exc:
            self.error = exc
            return
        except Exception as exc:  # kept for the command to report
            self.error = ClientError(f"{self.endpoint.url}: {exc}")
            return
        for path in self._read_ahead:
            try:
                self.transport.read_ahead(path)
            except Exception:
                return  # the command reads it again and meets the error itself

    def take(self, endpoint: Endpoint, password: str) -> Transport | None:
        """The connected transport if it is for this endpoint and password; None if the
        command should connect itself (a transient failure is retried that way)."""
        self._thread.join()
        if (endpoint, password) != (self.endpoint, self.password):
            self.transport.close()
            return None
        if self.error is not None:
            if isinstance(self.error, TransientError):
                return None
            raise self.error
        return self.transport

    def close(self) -> None:
        self._thread.join()
        self.transport.close()


def start(argv: list[str]) -> Prewarm | None:
    """A Prewarm for `pool ARGV` when it is a network command with everything known."""
    profile = command = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GLOBAL_WITH_VALUE:
            profile = argv[i + 1] if i + 1 < len(argv) else None
            i += 2
            continue
        if arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
        elif arg == "--password-stdin" or arg in ("-h", "--help"):
            return None
        elif not arg.startswith("-"):
            if arg not in NETWORK_COMMANDS or "--help" in argv or "-h" in argv:
                return None
            command = arg
            break
        i += 1
    else:
        return None
    try:
        endpoint = resolve_endpoint(profile)
        password = find_password(endpoint, None, interactive=False)
    except ClientError:
        return None  # the command says what is missing
    return Prewarm(endpoint, password, READ_AHEAD.get(command or "", ()))
