"""The IMAP client: connect, log in, select, find new UIDs, fetch sizes/dates and raw mail.

Built on imapclient. What it guarantees:

* TLS by default with certificate and host-name checks; connect and read timeouts.
* Nothing is ever marked read (``BODY.PEEK[]``, folder selected read-only unless a processed
  action is configured) and nothing is ever deleted or expunged.
* INTERNALDATE stays timezone-aware (``normalise_times`` off).
* Every failure is a :class:`~mailintake.errors.MailboxError` whose text is one line naming the
  fix; passwords never appear in it. Network-level trouble (refused, timed out, connection lost)
  is the subclass :class:`MailboxUnavailable`: retrying later may work.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from mailintake import __version__
from mailintake.config import MailboxSettings
from mailintake.errors import MailboxError
from mailintake.text import one_line
from mailintake.tls import client_context

log = logging.getLogger(__name__)

META_BATCH = 500
CONNECT_TIMEOUT = 20.0


class MailboxUnavailable(MailboxError):
    """Raised when the IMAP server cannot be reached or the connection drops; a later retry may work."""


@dataclass(frozen=True)
class FolderState:
    """What SELECT said about the folder."""

    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int
    readonly: bool
    #: PERMANENTFLAGS ("\\*" means any keyword can be stored); empty on a read-only selection
    permanent_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageMeta:
    """Size, arrival time (INTERNALDATE, timezone-aware) and flags of one message."""

    uid: int
    size: int
    internaldate: datetime
    flags: tuple[str, ...]


def _imap_text(value: object, limit: int = 200) -> str:
    text = one_line(value)
    if text.startswith("b'") or text.startswith('b"'):  # imapclient's errors carry a bytes repr
        text = text[2:-1]
    return one_line(text, limit, ellipsis=True)


def _login_hint(host: str) -> str:
    host = host.lower()
    if host.endswith("qq.com"):
        return " (QQ Mail needs the 授权码 from 设置 → 账户 → IMAP/SMTP服务, not the QQ password)"
    if host.endswith(("163.com", "126.com", "yeah.net")):
        return " (NetEase Mail needs the 客户端授权密码, not the web password)"
    return ""


def _aware(value: datetime) -> datetime:
    """imapclient's FixedOffset → datetime.timezone (same instant and offset); naive means UTC."""
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    tz = UTC if offset == timedelta(0) else timezone(offset)
    return value.replace(tzinfo=tz)


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), max(1, size)):
        yield list(items[start : start + size])


class MailboxClient:
    """One IMAP session for one configured mailbox. Use as a context manager::

    with MailboxClient(settings.mailbox) as box:
        state = box.select()
        for uid in box.uids_above(last_uid): ...
    """

    def __init__(self, settings: MailboxSettings) -> None:
        self.settings = settings
        self.host = settings.host
        self.port = settings.effective_port
        self._imap: IMAPClient | None = None
        self._state: FolderState | None = None
        self._uidnext_fresh = False

    # ------------------------------------------------------------------------------ connection

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def imap(self) -> IMAPClient:
        if self._imap is None:
            raise MailboxError("IMAP session is not connected: call connect() first (a programming error)")
        return self._imap

    @property
    def state(self) -> FolderState | None:
        """The folder selected last, if any."""
        return self._state

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return client_context(self.settings.ca_file, self.settings.verify_tls)
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(
                f"cannot read [mailbox] ca_file {self.settings.ca_file} ({_imap_text(exc.strerror or exc)}): "
                "fix the path or remove it"
            ) from None

    def _network_error(self, exc: BaseException, during: str) -> MailboxError:
        """Translate a socket/TLS-level exception into one line naming the fix."""
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = _imap_text(exc.verify_message or exc.reason or exc)
            return MailboxError(
                f"TLS certificate verification failed for {self.target} ({reason}): check [mailbox] host, "
                "or set [mailbox] ca_file for a private certificate authority"
            )
        if isinstance(exc, ssl.SSLError):
            reason = _imap_text(exc.reason or exc)
            return MailboxError(
                f"TLS handshake with {self.target} failed ({reason}): check [mailbox] security and port "
                '(security = "ssl" uses port 993, "starttls" port 143)'
            )
        if isinstance(exc, socket.gaierror):
            return MailboxUnavailable(
                f"cannot connect to {self.target} (host name not found): check [mailbox] host and the network"
            )
        if isinstance(exc, TimeoutError | socket.timeout):
            reason = "timed out"
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
        else:
            reason = _imap_text(getattr(exc, "strerror", None) or exc) or type(exc).__name__
        if during == "connect":
            return MailboxUnavailable(
                f"cannot connect to {self.target} ({reason}): check [mailbox] host/port and the network"
            )
        return MailboxUnavailable(
            f"IMAP connection to {self.target} lost during {during} ({reason}): check the network; "
            "the next poll retries"
        )

    def _wrap(self, exc: BaseException, during: str) -> MailboxError:
        """Any exception from imapclient/imaplib/socket → MailboxError (one line, no secrets)."""
        if isinstance(exc, MailboxError):
            return exc
        if isinstance(exc, imaplib.IMAP4.abort):  # before IMAPClientError: abort is a subclass
            if isinstance(exc.__context__, OSError):
                return self._network_error(exc.__context__, during)
            reason = _imap_text(exc).split(" => ", 1)[-1]  # imapclient prefixes "command: FETCH => "
            return MailboxUnavailable(
                f"IMAP connection to {self.target} lost during {during} ({reason}): check the network; "
                "the next poll retries"
            )
        if isinstance(exc, OSError | EOFError):
            return self._network_error(exc, during)
        if isinstance(exc, IMAPClientError):
            return MailboxError(f"IMAP server {self.target} refused {during}: {_imap_text(exc)}")
        return MailboxError(f"IMAP {during} with {self.target} failed: {type(exc).__name__}: {_imap_text(exc)}")

    def connect(self) -> MailboxClient:
        """Open the connection, upgrade to TLS as configured, log in and send ID when offered."""
        security = self.settings.security
        timeout = SocketTimeout(connect=min(CONNECT_TIMEOUT, self.settings.timeout), read=self.settings.timeout)
        context = self._ssl_context() if security != "none" else None
        log.debug("connecting to %s (%s)", self.target, security)
        try:
            imap = IMAPClient(self.host, port=self.port, ssl=security == "ssl", ssl_context=context, timeout=timeout)
        except Exception as exc:
            raise self._wrap(exc, "connect") from None
        imap.normalise_times = False
        self._imap = imap
        self._no_delay()
        try:
            if security == "starttls":
                self._starttls(context)
            self._login()
            self._send_id()
        except BaseException:
            self._shutdown()
            raise
        return self

    def _starttls(self, context: ssl.SSLContext | None) -> None:
        try:
            offered = self.imap.has_capability("STARTTLS")
        except Exception as exc:
            raise self._wrap(exc, "CAPABILITY") from None
        if not offered:
            raise MailboxError(
                f'IMAP server {self.target} does not offer STARTTLS: set [mailbox] security = "ssl" '
                "(port 993) or check [mailbox] port"
            )
        try:
            self.imap.starttls(context)
        except Exception as exc:
            raise self._wrap(exc, "STARTTLS") from None
        self._no_delay()

    def _no_delay(self) -> None:
        """imaplib writes a command in several pieces: without TCP_NODELAY, Nagle's algorithm and
        the server's delayed ACK add ~40 ms to every command."""
        try:
            self.imap.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            log.debug("cannot set TCP_NODELAY", exc_info=True)

    def _login(self) -> None:
        user = self.settings.username
        if not user:
            raise MailboxError("[mailbox] username is empty: set it to the mailbox address")
        try:
            if self.imap.has_capability("LOGINDISABLED"):
                raise MailboxError(
                    f"IMAP server {self.target} refuses to log in without TLS: "
                    'set [mailbox] security = "ssl" or "starttls"'
                )
            self.imap.login(user, self.settings.password)
        except LoginError as exc:
            reason = _imap_text(exc)
            if self.settings.password:
                reason = reason.replace(self.settings.password, "***")
            raise MailboxError(
                f"IMAP login to {self.target} failed for user {user} ({reason}): check [mailbox] username/password"
                f"{_login_hint(self.host)}"
            ) from None
        except Exception as exc:
            raise self._wrap(exc, "LOGIN") from None
        log.debug("logged in to %s as %s", self.target, user)

    def _send_id(self) -> None:
        """163/126 refuse SELECT ("Unsafe Login") until the client identifies itself."""
        try:
            if not self.imap.has_capability("ID"):
                return
            self.imap.id_({"name": "mailintake", "version": __version__, "vendor": "mailintake"})
        except (imaplib.IMAP4.abort, OSError) as exc:
            raise self._wrap(exc, "ID") from None
        except IMAPClientError as exc:  # a refused ID is not fatal by itself; SELECT will tell
            log.warning("IMAP server %s refused the ID command: %s", self.target, _imap_text(exc))

    def _shutdown(self) -> None:
        imap, self._imap = self._imap, None
        self._state = None
        if imap is None:
            return
        try:
            imap.logout()
        except Exception:
            try:
                imap.shutdown()
            except Exception:
                log.debug("closing the IMAP socket failed", exc_info=True)

    def close(self) -> None:
        """Log out (never CLOSE, which would expunge)."""
        self._shutdown()

    def __enter__(self) -> MailboxClient:
        if self._imap is None:
            self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- folder

    @property
    def capabilities(self) -> tuple[str, ...]:
        try:
            return tuple(c.decode("ascii", "replace") for c in self.imap.capabilities())
        except Exception as exc:
            raise self._wrap(exc, "CAPABILITY") from None

    def has_capability(self, name: str) -> bool:
        try:
            return bool(self.imap.has_capability(name))
        except Exception as exc:
            raise self._wrap(exc, "CAPABILITY") from None

    def select(self, folder: str | None = None, readonly: bool | None = None) -> FolderState:
        """SELECT (read-only unless a processed action is configured); return UIDVALIDITY and UIDNEXT."""
        name = folder or self.settings.folder
        if readonly is None:
            readonly = self.settings.processed_action == "none"
        try:
            response = self.imap.select_folder(name, readonly=readonly)
        except IMAPClientError as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise self._wrap(exc, f"SELECT {name}") from None
            raise MailboxError(
                f"cannot open IMAP folder {name!r} on {self.target} ({_imap_text(exc)}): check [mailbox] folder"
                f"{self._known_folders_hint()}"
            ) from None
        except Exception as exc:
            raise self._wrap(exc, f"SELECT {name}") from None
        try:
            uidvalidity = int(response[b"UIDVALIDITY"])
        except (KeyError, TypeError, ValueError):
            raise MailboxError(
                f"IMAP server {self.target} sent no UIDVALIDITY for {name!r}: this server cannot be polled safely"
            ) from None
        uidnext = response.get(b"UIDNEXT")
        self._state = FolderState(
            name=name,
            uidvalidity=uidvalidity,
            uidnext=int(uidnext) if uidnext is not None else None,
            exists=int(response.get(b"EXISTS", 0)),
            readonly=readonly,
            permanent_flags=tuple(_flag_text(f) for f in response.get(b"PERMANENTFLAGS", ())),
        )
        self._uidnext_fresh = True
        return self._state

    def _known_folders_hint(self) -> str:
        try:
            names = [str(entry[2]) for entry in self.imap.list_folders()]
        except Exception:
            return ""
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        return f" (folders on the server: {shown})" if names else ""

    def folder_exists(self, folder: str) -> bool:
        try:
            return bool(self.imap.folder_exists(folder))
        except Exception as exc:
            raise self._wrap(exc, "LIST") from None

    def _selected(self) -> FolderState:
        if self._state is None:
            raise MailboxError("no IMAP folder selected: call select() first (a programming error)")
        return self._state

    # ----------------------------------------------------------------------------------- fetch

    def uids_above(self, last_uid: int) -> list[int]:
        """UIDs greater than ``last_uid``, ascending.

        ``UID SEARCH UID n:*`` always matches the highest existing UID even when it is below n
        (RFC 3501: ``*`` is the largest UID in use), so the answer is filtered.
        """
        state = self._selected()
        fresh, self._uidnext_fresh = self._uidnext_fresh, False
        if fresh and state.uidnext is not None and last_uid + 1 >= state.uidnext:
            # nothing can be above UIDNEXT as of the SELECT just made: skip a search that costs
            # some servers time proportional to the folder (a mail arriving meanwhile is found
            # on the next poll, as the ledger's last UID has not moved past it)
            return []
        try:
            found = self.imap.search(["UID", f"{max(0, last_uid) + 1}:*"])
        except Exception as exc:
            raise self._wrap(exc, "UID SEARCH") from None
        return sorted(int(uid) for uid in found if int(uid) > last_uid)

    def fetch_meta(self, uids: Iterable[int]) -> dict[int, MessageMeta]:
        """RFC822.SIZE, INTERNALDATE and FLAGS for ``uids`` (in batches). Vanished UIDs are absent."""
        self._selected()
        wanted = sorted(set(uids))
        result: dict[int, MessageMeta] = {}
        for batch in _batches(wanted, META_BATCH):
            try:
                data = self.imap.fetch(batch, ["RFC822.SIZE", "INTERNALDATE", "FLAGS"])
            except Exception as exc:
                raise self._wrap(exc, "FETCH") from None
            for uid, item in data.items():
                if uid not in batch or b"INTERNALDATE" not in item:
                    continue  # an unsolicited FETCH (flag change) for another message
                result[uid] = MessageMeta(
                    uid=uid,
                    size=int(item.get(b"RFC822.SIZE", 0)),
                    internaldate=_aware(item[b"INTERNALDATE"]),
                    flags=tuple(_flag_text(flag) for flag in item.get(b"FLAGS", ())),
                )
        return result

    def iter_raw(self, uids: Iterable[int], batch_size: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield (uid, raw bytes) with ``BODY.PEEK[]`` (never sets \\Seen), a batch at a time."""
        self._selected()
        wanted = sorted(set(uids))
        for batch in _batches(wanted, batch_size or self.settings.fetch_batch):
            try:
                data = self.imap.fetch(batch, ["BODY.PEEK[]"])
            except Exception as exc:
                raise self._wrap(exc, "FETCH") from None
            for uid in batch:
                item = data.get(uid)
                if item is None:
                    continue  # expunged meanwhile
                raw = item.get(b"BODY[]")
                if raw is None:
                    raw = next((v for k, v in item.items() if isinstance(k, bytes) and k.startswith(b"BODY[")), None)
                if isinstance(raw, bytes):
                    yield uid, raw

    def fetch_raw(self, uids: Iterable[int]) -> dict[int, bytes]:
        """The raw messages for ``uids`` (``BODY.PEEK[]``, batched). Vanished UIDs are absent."""
        return dict(self.iter_raw(uids))

    def fetch_headers(self, uids: Iterable[int]) -> dict[int, bytes]:
        """Only the headers (``BODY.PEEK[HEADER]``) of ``uids``: enough to record and answer a mail
        too large to read. Vanished UIDs are absent."""
        self._selected()
        wanted = sorted(set(uids))
        if not wanted:
            return {}
        try:
            response = self.imap.fetch(wanted, [b"BODY.PEEK[HEADER]"])
        except Exception as exc:  # a dropped connection is a one-line MailboxError like every other fetch
            raise self._wrap(exc, "FETCH") from None
        asked = set(wanted)
        return {uid: bytes(data.get(b"BODY[HEADER]", b"")) for uid, data in response.items() if uid in asked}

    # ---------------------------------------------------------------------------- after commit

    def mark_processed(
        self,
        uids: Iterable[int],
        action: Literal["none", "flag", "move"] | None = None,
        flag: str | None = None,
        folder: str | None = None,
    ) -> None:
        """Flag or move processed mail — call only after the database commit. Never deletes:
        without the MOVE extension the mail is copied and also left where it is."""
        action = action or self.settings.processed_action
        wanted = sorted(set(uids))
        if action == "none" or not wanted:
            return
        state = self._selected()
        if state.readonly:
            self.select(state.name, readonly=False)
        if action == "flag":
            keyword = flag or self.settings.processed_flag
            state = self._selected()
            storable = keyword in state.permanent_flags or (
                not keyword.startswith("\\") and "\\*" in state.permanent_flags
            )
            if not storable:
                raise MailboxError(
                    f"IMAP server {self.target} cannot store the flag {keyword} in {state.name!r} (it keeps only "
                    f"{' '.join(state.permanent_flags) or 'no flags'}): set [mailbox] processed_flag = "
                    '"\\Flagged" or processed_action = "move"'
                )
            try:
                self.imap.add_flags(wanted, [keyword], silent=True)
            except Exception as exc:
                raise self._wrap(exc, f"STORE +FLAGS {keyword}") from None
            return
        destination = folder or self.settings.processed_folder
        try:
            if not self.imap.folder_exists(destination):
                self.imap.create_folder(destination)
            if self.imap.has_capability("MOVE"):
                self.imap.move(wanted, destination)
            else:
                self.imap.copy(wanted, destination)
        except Exception as exc:
            raise self._wrap(exc, f"MOVE to {destination}") from None

    def noop(self) -> None:
        """NOOP: lets a long-lived session learn about new mail (and checks the connection)."""
        self._uidnext_fresh = False
        try:
            self.imap.noop()
        except Exception as exc:
            raise self._wrap(exc, "NOOP") from None

    # ------------------------------------------------------------------------------------ IDLE

    def idle_wait(self, timeout: float) -> bool:
        """IDLE up to ``timeout`` seconds. True when new mail arrived (EXISTS); False on timeout
        or when the server has no IDLE (then the caller polls)."""
        self._selected()
        self._uidnext_fresh = False
        if not self.has_capability("IDLE"):
            return False
        from mailintake.idle import idle_wait

        try:
            arrived, _untagged = idle_wait(self.imap, timeout)  # any untagged response is legal (RFC 2177)
        except Exception as exc:
            raise self._wrap(exc, "IDLE") from None
        return arrived


def _flag_text(flag: Any) -> str:
    return flag.decode("utf-8", "replace") if isinstance(flag, bytes) else str(flag)
