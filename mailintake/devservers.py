"""Local mail servers for the demo, the tests and the benchmarks — loopback only, no TLS.

* :func:`start_imap_server` — pymap's in-memory ("dict") backend running in this process on a
  background thread with its own event loop. Starts in a few milliseconds.
* :func:`start_dovecot` — a throwaway Dovecot (when installed) with its config, passwd file and
  maildirs under a temporary directory.
* :func:`start_smtp_sink` — an aiosmtpd server that keeps every accepted message and can be told
  to refuse the next commands (421/451/550 fault tests).
* :func:`append_mail` and :func:`reset_uidvalidity` — client-side helpers that work with both IMAP
  servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

from imapclient import IMAPClient

DEFAULT_USERS: dict[str, str] = {"office@example.gov.cn": "secret"}
_T = TypeVar("_T")


class DovecotUnavailable(RuntimeError):
    """Raised by :func:`start_dovecot` when the ``dovecot`` binary is not installed."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (tiny race until the caller binds it; fine on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ImapServer:
    """What every local IMAP server offers: where it listens, the first user, stop and restart."""

    kind = "imap"

    def __init__(self, host: str, port: int, users: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.users = dict(users)

    @property
    def username(self) -> str:
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.username]

    def client(self, username: str | None = None) -> IMAPClient:
        """A logged-in plaintext IMAPClient (timezone-aware dates); the caller logs out."""
        user = username or self.username
        imap = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        imap.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms per command
        imap.normalise_times = False
        imap.login(user, self.users[user])
        return imap

    def add_user(self, username: str, password: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        raise NotImplementedError

    def reset_uidvalidity(self, folder: str = "INBOX", username: str | None = None) -> int:
        raise NotImplementedError

    def __enter__(self) -> ImapServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port} users={list(self.users)}>"


# --------------------------------------------------------------------------------------------- pymap


class _LoopThread:
    """An asyncio event loop running forever on a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class PymapServer(ImapServer):
    """pymap's dict backend in-process. Mailbox contents live as long as this object.

    ``restart()`` closes the listener and every client connection, then listens again on the same
    port with the same mailboxes (what a client sees when a server restarts between polls).
    ``drop_connections()`` only cuts the current client connections (a dropped connection).
    """

    kind = "pymap"

    def __init__(
        self,
        host: str,
        port: int,
        users: dict[str, str],
        tls: Literal["none", "starttls", "ssl"] = "none",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(host, port, users)
        if tls != "none" and ssl_context is None:
            raise ValueError("tls needs a server ssl_context (certificate and key loaded)")
        self.tls = tls
        self._ssl_context = ssl_context
        self._loop = _LoopThread(f"pymap-{host}:{port}")
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[tuple[asyncio.StreamWriter, asyncio.Task[Any]]] = set()
        self._backend: Any = None
        self._config: Any = None
        self._drop_rules: list[list[Any]] = []
        self._drop_lock = threading.Lock()
        try:
            self._loop.run(self._setup())
            self._loop.run(self._listen())
        except BaseException:
            self._loop.close()
            raise

    async def _setup(self) -> None:
        from argparse import Namespace

        from pymap.backend.dict import Config, DictBackend, Login
        from pymap.concurrent import Subsystem
        from pysasl.hashing import Cleartext

        class _Config(Config):
            @property
            def greeting(self) -> bytes:  # the default calls socket.getfqdn() on every connection
                return b"Server ready mailintake-devserver"

        args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None, debug=False)
        config = _Config(
            args,
            host=self.host,
            port=self.port,
            demo_data=False,
            demo_user="demouser",
            demo_password="",
            tls_enabled=self.tls == "starttls",
            ssl_context=self._ssl_context,
            hash_context=Cleartext(),
            cpu_subsystem=Subsystem.for_asyncio(),
            invalid_user_sleep=0.0,
            reject_dnsbl=False,
        )
        config.apply_context()
        login = Login(config)
        self._config = config
        self._backend = DictBackend(login, config)
        for username, password in self.users.items():
            await self._add_user(username, password)

    async def _add_user(self, username: str, password: str) -> None:
        from pymap.user import UserMetadata

        self._backend.login.users_dict[username] = UserMetadata(self._config, username, password=password)

    def add_user(self, username: str, password: str) -> None:
        self.users[username] = password
        self._loop.run(self._add_user(username, password))

    async def _listen(self) -> None:
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.imap import IMAPServer

        imap_server = IMAPServer(self._backend.login, self._config)

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sock_info: Any) -> None:
            task = asyncio.current_task()
            assert task is not None
            entry = (writer, task)
            self._connections.add(entry)
            try:
                await imap_server(cast(asyncio.StreamReader, _TappedReader(reader, self)), writer, sock_info)
            finally:
                self._connections.discard(entry)

        callback = ProxyProtocolReader(self._config.proxy_protocol).get_callback(tracked)
        self._server = await asyncio.start_server(
            callback,
            host=self.host,
            port=self.port,
            reuse_address=True,
            ssl=self._ssl_context if self.tls == "ssl" else None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _drop(self) -> None:
        entries = list(self._connections)
        for writer, task in entries:
            writer.close()
            task.cancel()
        await asyncio.gather(*(task for _, task in entries), return_exceptions=True)
        self._connections.clear()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._drop()
            await self._server.wait_closed()
            self._server = None

    async def _reset_uidvalidity(self, folder: str, username: str) -> int:
        from pymap.backend.dict.mailbox import MailboxData

        mailbox_set = self._config.set_cache[username][0]
        old = await mailbox_set.get_mailbox(folder)
        new = MailboxData(old._content_cache, old._thread_cache)
        while new.uid_validity == old.uid_validity:
            new = MailboxData(old._content_cache, old._thread_cache)
        for uid in sorted(old._messages):
            await old.copy(uid, new)
        if folder.upper() == "INBOX":
            mailbox_set._inbox = new
        else:
            mailbox_set._set[folder] = new
        return int(new.uid_validity)

    def reset_uidvalidity(self, folder: str = "INBOX", username: str | None = None) -> int:
        user = username or self.username
        folder_uidvalidity(self, folder, user)  # logs in once so the user's mailboxes exist
        self.drop_connections()  # clients holding the old folder selected would see stale state
        return self._loop.run(self._reset_uidvalidity(folder, user))

    def drop_on(self, command: str = "FETCH", times: int = 1) -> None:
        """Hang up (no answer) the next ``times`` connections that send ``command`` (UID prefix
        ignored): a connection dropped mid-FETCH, as the fault tests need."""
        with self._drop_lock:
            self._drop_rules.append([command.upper().encode("ascii"), times])

    def _should_drop(self, line: bytes) -> bool:
        if not self._drop_rules:
            return False
        words = line.split(None, 3)
        if len(words) < 2:
            return False
        command = words[2].upper() if words[1].upper() == b"UID" and len(words) > 2 else words[1].upper()
        with self._drop_lock:
            for rule in self._drop_rules:
                if rule[0] == command:
                    rule[1] -= 1
                    if rule[1] <= 0:
                        self._drop_rules.remove(rule)
                    return True
        return False

    def drop_connections(self) -> None:
        """Cut every open client connection; the server keeps listening."""
        self._loop.run(self._drop())

    def restart(self) -> None:
        self._loop.run(self._close())
        self._loop.run(self._listen())

    def stop(self) -> None:
        if self._loop.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._loop.run(self._close())
        self._loop.close()


class _TappedReader:
    """Wraps a connection's StreamReader so the server can hang up on a chosen command."""

    def __init__(self, reader: asyncio.StreamReader, server: PymapServer) -> None:
        self._reader = reader
        self._server = server

    async def readline(self) -> bytes:
        line = await self._reader.readline()
        if self._server._should_drop(line):
            return b""  # pymap treats a line without "\n" as EOF and closes the connection
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def start_imap_server(
    users: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls: Literal["none", "starttls", "ssl"] = "none",
    ssl_context: ssl.SSLContext | None = None,
) -> PymapServer:
    """Start pymap in-process on a free loopback port (LOGIN and AUTHENTICATE PLAIN).

    Plaintext by default; ``tls="starttls"`` offers STARTTLS (and refuses login before it),
    ``tls="ssl"`` is implicit TLS like port 993. Both need a server ``ssl_context``.
    """
    return PymapServer(host, port, users or dict(DEFAULT_USERS), tls=tls, ssl_context=ssl_context)


# ------------------------------------------------------------------------------------------- dovecot


def dovecot_binary() -> str | None:
    """Path of the dovecot binary, or None (also looks in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


_DOVECOT_CONF = """\
# throwaway configuration written by mailintake.devservers
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


# ------------------------------------------------------------------------------------- IMAP helpers


def append_mail(
    server: ImapServer,
    raw: bytes,
    internaldate: datetime | None = None,
    folder: str = "INBOX",
    flags: Iterable[str | bytes] = (),
    username: str | None = None,
) -> int | None:
    """APPEND one message (INTERNALDATE defaults to now, UTC); returns its UID when the server says."""
    when = internaldate or datetime.now(UTC)
    imap = server.client(username)
    try:
        if folder.upper() != "INBOX" and not imap.folder_exists(folder):
            imap.create_folder(folder)
        response = imap.append(folder, raw, flags=tuple(flags), msg_time=when)
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    return _appended_uid(response)


def append_many(
    server: ImapServer,
    mails: Iterable[bytes | tuple[bytes, datetime | None]],
    folder: str = "INBOX",
    chunk: int = 200,
    username: str | None = None,
) -> int:
    """APPEND many messages over one connection (MULTIAPPEND where offered); return how many.

    For benchmarks: 10,000 small mails take a few seconds on pymap.
    """
    imap = server.client(username)
    count = 0
    try:
        if folder.upper() != "INBOX" and not imap.folder_exists(folder):
            imap.create_folder(folder)
        multi = imap.has_capability("MULTIAPPEND")
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            if not batch:
                return
            if multi:
                imap.multiappend(folder, batch)
            else:
                for item in batch:
                    imap.append(folder, item["msg"], msg_time=item["date"])
            batch.clear()

        for mail in mails:
            raw, when = (mail, None) if isinstance(mail, bytes) else mail
            batch.append({"msg": raw, "date": when or datetime.now(UTC)})
            count += 1
            if len(batch) >= chunk:
                flush()
        flush()
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    return count


def _appended_uid(response: bytes | str) -> int | None:
    text = response.decode("ascii", "replace") if isinstance(response, bytes) else str(response)
    if "[APPENDUID " in text:
        with contextlib.suppress(ValueError, IndexError):
            return int(text.split("[APPENDUID ", 1)[1].split("]", 1)[0].split()[1])
    return None


def reset_uidvalidity(server: ImapServer, folder: str = "INBOX", username: str | None = None) -> int:
    """Give ``folder`` (INBOX too) a new UIDVALIDITY keeping its messages; return the new value.

    As a server does after its index is rebuilt: the messages get fresh UIDs (on pymap the same
    numbers as before, a good trap for code that trusts UIDs across UIDVALIDITY values).
    """
    return server.reset_uidvalidity(folder, username)


def recreate_folder(server: ImapServer, folder: str, username: str | None = None) -> int:
    """Delete and recreate a folder other than INBOX through IMAP, appending its messages back
    (dates and flags kept); return the new UIDVALIDITY. Works on every server."""
    if folder.upper() == "INBOX":
        raise ValueError("INBOX cannot be deleted; use reset_uidvalidity()")
    imap = server.client(username)
    try:
        old = int(imap.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
        uids = imap.search("ALL")
        data = imap.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"]) if uids else {}
        imap.select_folder("INBOX", readonly=True)  # leave the folder without CLOSE (which expunges)
        imap.delete_folder(folder)
        while True:
            imap.create_folder(folder)
            new = int(imap.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])
            if new != old:
                break
            imap.delete_folder(folder)  # a clock-based UIDVALIDITY can repeat within one second
            time.sleep(0.2)
        for uid in sorted(data):
            item = data[uid]
            flags = tuple(f for f in item[b"FLAGS"] if f != b"\\Recent")
            imap.append(folder, item[b"BODY[]"], flags=flags, msg_time=item[b"INTERNALDATE"])
        return new
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def folder_uidvalidity(server: ImapServer, folder: str = "INBOX", username: str | None = None) -> int:
    imap = server.client(username)
    try:
        return int(imap.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


# ----------------------------------------------------------------------------------------- SMTP sink


@dataclass(frozen=True)
class SinkMessage:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    received_at: datetime


@dataclass
class _Failure:
    stage: str
    code: int
    message: str
    times: int


@dataclass
class _SinkState:
    messages: list[SinkMessage] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)


class _SinkHandler:
    def __init__(self, state: _SinkState) -> None:
        self.state = state

    def _take(self, stage: str) -> _Failure | None:
        with self.state.cond:
            for failure in self.state.failures:
                if failure.stage == stage:
                    failure.times -= 1
                    if failure.times <= 0:
                        self.state.failures.remove(failure)
                    return failure
        return None

    @staticmethod
    def _reply(server: Any, failure: _Failure) -> str:
        if failure.code == 421:  # "service closing transmission channel": really close it
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return f"{failure.code} {failure.message}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        failure = self._take("RCPT")
        if failure is not None:
            return self._reply(server, failure)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self._take("DATA")
        if failure is not None:
            return self._reply(server, failure)
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        message = SinkMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(raw),
            received_at=datetime.now(UTC),
        )
        with self.state.cond:
            self.state.messages.append(message)
            self.state.cond.notify_all()
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on a loopback port keeping every accepted message in memory (plaintext, no AUTH)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from aiosmtpd.controller import Controller

        self.host = host
        self.port = port or free_port(host)
        self._state = _SinkState()
        self._controller = Controller(
            _SinkHandler(self._state),
            hostname=host,
            port=self.port,
            server_hostname="mailintake-sink.local",
            ready_timeout=10,
            decode_data=False,
            data_size_limit=200 * 1024 * 1024,
        )
        self._controller.start()

    @property
    def messages(self) -> list[SinkMessage]:
        """A snapshot of everything accepted so far, in order."""
        with self._state.cond:
            return list(self._state.messages)

    def clear(self) -> None:
        with self._state.cond:
            self._state.messages.clear()

    def fail_next(self, code: int, message: str, times: int = 1, stage: Literal["DATA", "RCPT"] = "DATA") -> None:
        """Answer the next ``times`` DATA (or RCPT) commands with ``code message``; 421 also hangs up."""
        with self._state.cond:
            self._state.failures.append(_Failure(stage.upper(), code, message, times))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SinkMessage]:
        """Wait until at least ``count`` messages arrived; return them all (fewer after the timeout)."""
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while len(self._state.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._state.cond.wait(remaining)
            return list(self._state.messages)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SmtpSink {self.host}:{self.port} messages={len(self.messages)}>"


def start_smtp_sink(host: str = "127.0.0.1", port: int = 0) -> SmtpSink:
    """Start an aiosmtpd sink on a free loopback port."""
    return SmtpSink(host, port)
