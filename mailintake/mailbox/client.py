"""The IMAP client: select, find new UIDs, fetch sizes/dates, raw mail and headers; flag or move.

Built on imapclient. What it guarantees:

* TLS by default with certificate and host-name checks; connect and read timeouts (the session
  is opened by ``mailbox_login``).
* Nothing is ever marked read (``BODY.PEEK[]``, folder selected read-only unless a processed
  action is configured) and nothing is ever deleted or expunged.
* INTERNALDATE stays timezone-aware (``normalise_times`` off).
* Every failure is a :class:`~mailintake.errors.MailboxError` whose text is one line naming the
  fix; passwords never appear in it (``mailbox_errors``). Network-level trouble (refused, timed
  out, connection lost) is the subclass ``MailboxUnavailable``: retrying later may work.

IMAP IDLE itself (reading whole lines on imapclient's connection) is ``mailbox_idle``.
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailintake.config.settings import MailboxSettings
from mailintake.errors import MailboxError
from mailintake.mailbox.errors import imap_text, wrap
from mailintake.mailbox.idle import idle_wait
from mailintake.mailbox.login import close_session, open_session, target_of

log = logging.getLogger(__name__)

META_BATCH = 500


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
        self.target = target_of(settings)
        self._imap: IMAPClient | None = None
        self._state: FolderState | None = None
        self._uidnext_fresh = False

    # ------------------------------------------------------------------------------ connection

    @property
    def imap(self) -> IMAPClient:
        if self._imap is None:
            raise MailboxError("IMAP session is not connected: call connect() first (a programming error)")
        return self._imap

    @property
    def state(self) -> FolderState | None:
        """The folder selected last, if any."""
        return self._state

    def _wrap(self, exc: BaseException, during: str) -> MailboxError:
        return wrap(exc, self.target, during)

    def connect(self) -> MailboxClient:
        """Open the connection, upgrade to TLS as configured, log in and send ID when offered."""
        self._imap = open_session(self.settings)
        return self

    def close(self) -> None:
        """Log out (never CLOSE, which would expunge)."""
        imap, self._imap = self._imap, None
        self._state = None
        if imap is not None:
            close_session(imap)

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
                f"cannot open IMAP folder {name!r} on {self.target} ({imap_text(exc)}): check [mailbox] folder"
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
        try:
            arrived, _untagged = idle_wait(self.imap, timeout)  # any untagged response is legal (RFC 2177)
        except Exception as exc:
            raise self._wrap(exc, "IDLE") from None
        return arrived


def _flag_text(flag: object) -> str:
    return flag.decode("utf-8", "replace") if isinstance(flag, bytes) else str(flag)
