"""A throwaway Dovecot (when installed) under a temporary directory."""

from __future__ import annotations

import contextlib
import getpass
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from mailintake.demo.servers.base import DEFAULT_USERS, ImapServer, free_port
from tests.support.imap import folder_uidvalidity
from tests.support.reaper import Reaper, kill_group_command


class DovecotUnavailable(RuntimeError):
    """Raised by :func:`start_dovecot` when the ``dovecot`` binary is not installed."""


def dovecot_binary() -> str | None:
    """Path of the dovecot binary, or None (also looks in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


_DOVECOT_CONF = """\
# throwaway configuration written by tests.support.dovecot
base_dir = {work}/run
state_dir = {work}/state
instance_name = mailintake-{port}
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_fsync = never
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{work}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
mail_privileged_group =
protocol imap {{
  mail_max_userip_connections = 100
  imap_id_log = *
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  user = {login_user}
}}
service auth {{
  user = {auth_user}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal_user}
    group = {internal_group}
    mode = 0600
  }}
  unix_listener stats-writer {{
    user = {internal_user}
    group = {internal_group}
    mode = 0666
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {work}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={work}/home/%u
}}
"""


class DovecotServer(ImapServer):
    """A Dovecot child process (``dovecot -F -c conf``) with its state under ``tmpdir``."""

    kind = "dovecot"

    def __init__(self, tmpdir: Path, users: dict[str, str], host: str = "127.0.0.1", port: int = 0) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise DovecotUnavailable("dovecot is not installed (apt-get install dovecot-imapd)")
        super().__init__(host, port or free_port(host), users)
        self.binary = binary
        self.base = Path(tmpdir).resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self.config_path = self.base / "dovecot.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._reaper: Reaper | None = None
        self._write_config()
        self._start()

    def _write_config(self) -> None:
        # Runtime state lives in a short, world-traversable directory of its own: unix socket paths
        # are limited to ~100 bytes, and as root Dovecot runs its login, auth helper and mail
        # processes as unprivileged users that must reach these files (a pytest tmp_path is 0700).
        self.work = Path(tempfile.mkdtemp(prefix="mi-dovecot-", dir="/tmp"))
        self.work.chmod(0o755)
        if os.getuid() == 0:
            # Dovecot refuses root for imap-login ("must not be run as root") and for the mail
            # processes ("userdb returned 0 as uid"): use the Debian package's users and nobody.
            login_user, internal_user, mail_user = "dovenull", "dovecot", "nobody"
        else:
            login_user = internal_user = mail_user = getpass.getuser()
        mail_pw = pwd.getpwnam(mail_user)
        for sub in ("state", "mail", "home"):
            (self.work / sub).mkdir()
        for sub in ("mail", "home"):
            os.chown(self.work / sub, mail_pw.pw_uid, mail_pw.pw_gid)
        self.config_path.write_text(
            _DOVECOT_CONF.format(
                base=self.base,
                work=self.work,
                host=self.host,
                port=self.port,
                uid=mail_pw.pw_uid,
                gid=mail_pw.pw_gid,
                auth_user=getpass.getuser(),
                login_user=login_user,
                internal_user=internal_user,
                internal_group=grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name,
            ),
            "utf-8",
        )
        self._write_passwd()

    def _write_passwd(self) -> None:
        lines = [f"{name}:{{PLAIN}}{password}::::::" for name, password in self.users.items()]
        passwd = self.work / "passwd"
        passwd.write_text("\n".join(lines) + "\n", "utf-8")
        passwd.chmod(0o600)

    def add_user(self, username: str, password: str) -> None:
        self.users[username] = password
        self._write_passwd()  # passwd-file is re-read when it changes

    def _start(self) -> None:
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._reaper = Reaper(kill_group_command(self._process.pid))  # gone with us, even after a SIGKILL
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode("utf-8", "replace") if self._process.stderr else ""
                raise RuntimeError(f"dovecot exited with {self._process.returncode}: {stderr.strip()} {self._log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self._kill()
        raise RuntimeError(f"dovecot did not start listening on {self.host}:{self.port}: {self._log()}")

    def _log(self) -> str:
        try:
            return (self.base / "dovecot.log").read_text("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def _kill(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # a throwaway server: SIGKILL the whole group (SIGTERM makes the master linger ~1 s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        if process.stderr:
            process.stderr.close()

    def restart(self) -> None:
        self._kill()
        self._wait_port_free()
        self._start()

    def reset_uidvalidity(self, folder: str = "INBOX", username: str | None = None) -> int:
        """Stop Dovecot, delete the folder's uidlist and indexes (keeping the messages), start again."""
        user = username or self.username
        old = folder_uidvalidity(self, folder, user)
        root = self.work / "mail" / user
        maildir = root if folder.upper() == "INBOX" else root / f".{folder}"
        while True:
            self._kill()
            for pattern in ("dovecot-uidlist", "dovecot.index*"):
                for path in [*maildir.glob(pattern), *root.glob("dovecot.list.index*")]:
                    path.unlink(missing_ok=True)
            self._wait_port_free()
            self._start()
            new = folder_uidvalidity(self, folder, user)
            if new != old:
                return new
            time.sleep(1)  # Dovecot derives UIDVALIDITY from the clock

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.work, ignore_errors=True)


def start_dovecot(tmpdir: str | os.PathLike[str], users: dict[str, str] | None = None) -> DovecotServer:
    """Start Dovecot on a free loopback port; raises :class:`DovecotUnavailable` when not installed."""
    return DovecotServer(Path(tmpdir), users or dict(DEFAULT_USERS))
