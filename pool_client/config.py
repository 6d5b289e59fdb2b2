"""Where the client keeps things, connection profiles, and how a password is found.

Lookup order for the connection: ``--profile`` / ``POOL_PROFILE``, else ``POOL_URL`` (+
``POOL_USER``), else the default profile. Passwords: ``--password-stdin``, then
``POOL_PASSWORD``, ``~/.netrc``, the OS keyring when the ``keyring`` package is
installed, else a prompt; never the config file, never the command line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import AuthError, UsageError

APP = "ortak-pool"
SCHEMES = {"ftp": 21, "ftps": 21, "sftp": 22, "http": 80, "https": 443}
PROFILES_FILE = "profiles.toml"
KEYRING_SERVICE = "ortak-pool"


def config_dir() -> Path:
    """``$POOL_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/ortak-pool``, else ~/.config/ortak-pool."""
    if os.environ.get("POOL_CONFIG_DIR"):
        return Path(os.environ["POOL_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP


def cache_dir() -> Path:
    """``$POOL_CACHE_DIR``, else ``$XDG_CACHE_HOME/ortak-pool``, else ~/.cache/ortak-pool."""
    if os.environ.get("POOL_CACHE_DIR"):
        return Path(os.environ["POOL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / APP


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and as whom (never the password)."""

    scheme: str
    host: str
    port: int
    user: str
    name: str = ""
    """The profile's name, or '' for a connection from the environment."""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def cache_key(self) -> str:
        """A folder name for this pool's local catalog (same pool, same catalog)."""
        return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.host}_{self.port}")


def parse_url(url: str, user: str | None = None, name: str = "") -> Endpoint:
    """`ftp://`, `ftps://` (explicit TLS), `sftp://`, `http://` or `https://` (the web
    door) URL → Endpoint; UsageError if not."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UsageError(
            f"{url!r}: the URL must start with ftp://, ftps://, sftp://, http:// or https:// "
            "(e.g. sftp://pool.example.org:2222)"
        )
    if parts.password:
        raise UsageError(
            "put no password in the URL: use POOL_PASSWORD, --password-stdin or ~/.netrc"
        )
    if not parts.hostname:
        raise UsageError(f"{url!r}: no host name")
    try:
        port = parts.port or SCHEMES[scheme]
    except ValueError as exc:
        raise UsageError(f"{url!r}: {exc}") from None
    who = user or (unquote(parts.username) if parts.username else None)
    if not who:
        raise UsageError("no user name: pass --user NAME (or set POOL_USER)")
    return Endpoint(scheme, parts.hostname, port, who, name)


# -- profiles --------------------------------------------------------------------------


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_profiles(folder: Path | None = None) -> dict:
    path = (folder or config_dir()) / PROFILES_FILE
    if not path.exists():
        return {"default": None, "profiles": {}}
    import tomllib  # here, not at the top: a no-op sync from $POOL_URL never needs it

    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a valid profiles file ({exc}); fix or remove it") from None
    doc.setdefault("profiles", {})
    doc.setdefault("default", None)
    return doc


def save_profile(
    endpoint: Endpoint, make_default: bool, member: str | None = None, folder: Path | None = None
) -> Path:
    """Add or replace a profile (URL, user, member area) and write the file atomically."""
    folder = folder or config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    doc = load_profiles(folder)
    doc["profiles"][endpoint.name] = {"url": endpoint.url, "user": endpoint.user}
    if member:
        doc["profiles"][endpoint.name]["member"] = member
    if make_default or not doc.get("default"):
        doc["default"] = endpoint.name
    lines = ["# pool profiles: written by `pool login`; passwords are never kept here", ""]
    lines.append(f"default = {_toml_str(doc['default'])}")
    for name, prof in sorted(doc["profiles"].items()):
        lines += ["", f"[profiles.{_toml_str(name)}]"]
        lines += [f"{k} = {_toml_str(str(v))}" for k, v in prof.items()]
    path = folder / PROFILES_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", "utf-8")
    os.replace(tmp, path)
    return path


def resolve_endpoint(profile: str | None) -> Endpoint:
    """The connection to use (see the module's lookup order)."""
    profile = profile or os.environ.get("POOL_PROFILE") or None
    if profile is None and os.environ.get("POOL_URL"):
        return parse_url(os.environ["POOL_URL"], os.environ.get("POOL_USER"))
    doc = load_profiles()
    name = profile or doc.get("default")
    if not name:
        raise UsageError(
            "no connection: run `pool login URL` first, or set POOL_URL, "
            "POOL_USER and POOL_PASSWORD"
        )
    prof = doc["profiles"].get(name)
    if prof is None:
        known = ", ".join(sorted(doc["profiles"])) or "none"
        raise UsageError(
            f"no profile {name!r} in {config_dir() / PROFILES_FILE} "
            f"(profiles: {known}); make it with `pool login URL --profile {name}`"
        )
    return parse_url(prof["url"], prof.get("user"), name)


def member_for(endpoint: Endpoint) -> str | None:
    """The member area `pool put` uploads into: $POOL_MEMBER, else the profile's."""
    if os.environ.get("POOL_MEMBER"):
        return os.environ["POOL_MEMBER"]
    if endpoint.name:
        return load_profiles()["profiles"].get(endpoint.name, {}).get("member")
    return None


# -- passwords -------------------------------------------------------------------------


def _keyring():
    try:
        import keyring  # optional
    except ImportError:
        return None
    return keyring


def _keyring_account(endpoint: Endpoint) -> str:
    return f"{endpoint.user}@{endpoint.host}:{endpoint.port}"


def keyring_store(endpoint: Endpoint, password: str) -> bool:
    kr = _keyring()
    if kr is None:
        return False
    try:
        kr.set_password(KEYRING_SERVICE, _keyring_account(endpoint), password)
    except Exception:  # no usable backend: the keyring is optional
        return False
    return True


def find_password(endpoint: Endpoint, stdin_password: str | None, interactive: bool) -> str:
    """The password by the documented lookup order; AuthError if there is none."""
    if stdin_password is not None:
        return stdin_password
    if os.environ.get("POOL_PASSWORD"):
        return os.environ["POOL_PASSWORD"]
    try:
        import netrc  # here: most runs never need it

        auth = netrc.netrc().authenticators(endpoint.host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        auth = None
    if auth and auth[2] and (not auth[0] or auth[0] == endpoint.user):
        return auth[2]
    kr = _keyring()
    if kr is not None:
        try:
            pw = kr.get_password(KEYRING_SERVICE, _keyring_account(endpoint))
        except Exception:
            pw = None
        if pw:
            return pw
    if interactive:
        import click

        return click.prompt(f"Password for {endpoint.user} at {endpoint.url}", hide_input=True)
    raise AuthError(
        f"no password for {endpoint.user} at {endpoint.url}: set POOL_PASSWORD, "
        "use --password-stdin or ~/.netrc"
    )
