"""``mailintake reconcile``: the mailbox against the ledger, message by message.

Every message in the configured folder (its current UIDVALIDITY) must have exactly one ledger row —
processed or a recorded identical copy — and every ledger row of that UIDVALIDITY must still be in the
folder. Messages above the last UID polled are not a difference: the next poll takes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings
from mailintake.db.models import Ledger, MailboxState


@dataclass
class Reconciliation:
    """What the mailbox and the ledger say about one folder."""

    folder: str
    uidvalidity: int
    in_mailbox: int = 0
    recorded: int = 0
    duplicates: int = 0
    #: polled UIDs the mailbox holds but the ledger lacks (mail lost by the intake)
    unrecorded: list[int] = field(default_factory=list)
    #: ledger rows whose message is gone from the folder (deleted or moved by someone)
    gone: list[int] = field(default_factory=list)
    #: UIDs above the last one polled (the next poll takes them)
    waiting: list[int] = field(default_factory=list)
    #: recorded messages moved away by ``[mailbox] processed_action = "move"`` (not a difference)
    moved: bool = False
    #: the ledger knows another UIDVALIDITY only (the folder was recreated; the next poll rescans it)
    stale_uidvalidity: int | None = None

    @property
    def differences(self) -> list[str]:
        lines = []
        if self.stale_uidvalidity is not None:
            lines.append(f"{self.folder}: the ledger knows UIDVALIDITY {self.stale_uidvalidity}, the mailbox has "
                         f"{self.uidvalidity}; the next poll rescans the folder")
        if self.unrecorded:
            lines.append(f"{self.folder}: {len(self.unrecorded)} message(s) in the mailbox have no ledger row "
                         f"(UID {_uids(self.unrecorded)}); run `mailintake poll` and reconcile again")
        if self.gone and not self.moved:
            lines.append(f"{self.folder}: {len(self.gone)} recorded message(s) are no longer in the mailbox "
                         f"(UID {_uids(self.gone)}); their copies are in the storage directory")
        return lines

    def summary(self) -> str:
        waiting = f", {len(self.waiting)} not yet polled" if self.waiting else ""
        if self.moved and self.gone:
            waiting += f", {len(self.gone)} moved to the processed folder"
        return (f"{self.folder} (UIDVALIDITY {self.uidvalidity}): {self.in_mailbox} message(s) in the mailbox, "
                f"{self.recorded} in the ledger ({self.recorded - self.duplicates} mail(s), {self.duplicates} "
                f"identical cop{'y' if self.duplicates == 1 else 'ies'}){waiting}")


def _uids(values: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" … and {len(values) - limit} more" if len(values) > limit else "")


def compare(folder: str, uidvalidity: int, mailbox_uids: set[int], session: Session) -> Reconciliation:
    """Compare the UIDs the folder holds with the ledger (pure apart from the database read)."""
    result = Reconciliation(folder, uidvalidity, in_mailbox=len(mailbox_uids))
    state = session.scalars(select(MailboxState).where(MailboxState.folder == folder)).first()
    rows = session.execute(select(Ledger.uid, Ledger.outcome)
                           .where(Ledger.folder == folder, Ledger.uidvalidity == uidvalidity)).all()
    recorded = {int(uid): outcome for uid, outcome in rows}
    result.recorded = len(recorded)
    result.duplicates = sum(1 for outcome in recorded.values() if outcome == "duplicate")
    if state is not None and state.uidvalidity is not None and state.uidvalidity != uidvalidity and not recorded:
        result.stale_uidvalidity = int(state.uidvalidity)
    last_uid = int(state.last_uid) if state is not None and state.uidvalidity == uidvalidity else 0
    for uid in sorted(mailbox_uids - set(recorded)):
        (result.waiting if uid > last_uid else result.unrecorded).append(uid)
    result.gone = sorted(set(recorded) - mailbox_uids)
    return result


def reconcile(settings: Settings, session_factory: sessionmaker[Session]) -> Reconciliation:
    """Read the folder's UIDs (read-only) and compare them with the ledger."""
    from mailintake.mailbox.client import MailboxClient

    with MailboxClient(settings.mailbox) as client:
        state = client.select(readonly=True)
        uids = set(client.uids_above(0))
    with session_factory() as session:
        result = compare(state.name, state.uidvalidity, uids, session)
    result.moved = settings.mailbox.processed_action == "move"
    return result
