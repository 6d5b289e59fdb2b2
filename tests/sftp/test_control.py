"""The control channel over SSH: OpenSSH's `ssh HOST ortak whoami` (key login, strict
host key checking) gets the JSON answer; errors exit non-zero with a message."""

from __future__ import annotations

import json

from ..helpers import run_cli
from .util import SftpEnv, openssh_exec


def test_whoami_with_openssh(sftp_env: SftpEnv) -> None:
    info = json.loads(run_cli(sftp_env.data, "info", "--json").output)
    done = openssh_exec(sftp_env, "aztv-up", "ortak whoami")
    assert done.returncode == 0, done.stderr
    me = json.loads(done.stdout)
    assert (me["user"], me["role"], me["member"]) == ("aztv-up", "contributor", "AZTV")
    assert me["protocol"] == "sftp"
    assert me["ssh_host_keys"] == info["ssh_host_keys"]
    assert me["tls_certificate"] == info["tls_certificate"][0]


def test_control_errors_with_openssh(sftp_env: SftpEnv) -> None:
    unknown = openssh_exec(sftp_env, "news", "ortak nosuch")
    assert unknown.returncode == 2 and "unknown command 'nosuch'" in unknown.stderr
    extra = openssh_exec(sftp_env, "news", "ortak whoami please")
    assert extra.returncode == 2 and "whoami takes no arguments" in extra.stderr
    helped = openssh_exec(sftp_env, "news", "ortak help")
    assert helped.returncode == 0 and "whoami" in json.loads(helped.stdout)["commands"]
    # other commands are still refused, as before
    refused = openssh_exec(sftp_env, "news", "ortakx whoami")
    assert refused.returncode != 0 and refused.stdout == ""
