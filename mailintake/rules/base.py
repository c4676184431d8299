"""What a rule sees and what it may add."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

from mailintake.config import Settings
from mailintake.mail.model import Attachment, ParsedMail
from mailintake.submissions import UnitNamer, normalise_unit
from parsers.records import FileResult, Flag, Form


@dataclass
class FileOutcome:
    """One candidate file of the mail and what the parser made of it."""

    attachment: Attachment
    result: FileResult
    sha256: str
    storage_path: str | None


@dataclass
class MailContext:
    mail: ParsedMail
    received_at: dt.datetime
    settings: Settings
    session: Session
    files: list[FileOutcome] = field(default_factory=list)
    #: mail-level defects that require a correction
    defects: list[Flag] = field(default_factory=list)
    #: mail-level notes that change nothing (e.g. a scan sent beside the Word form)
    notes: list[Flag] = field(default_factory=list)
    #: per-form flags added by mail-level rules (quota), keyed by (file index, form index)
    form_flags: dict[tuple[int, int], list[Flag]] = field(default_factory=dict)
    ignored_reason: str | None = None
    late: bool = False
    #: how unit names are grouped (the roster's name for a matching alias)
    unit_namer: UnitNamer = normalise_unit

    def forms(self) -> list[tuple[int, int, FileOutcome, Form]]:
        """Every form in arrival order: (file index, form index, file, form)."""
        return [
            (fi, ri, outcome, form)
            for fi, outcome in enumerate(self.files)
            for ri, form in enumerate(outcome.result.forms)
        ]

    def all_form_flags(self, file_index: int, form_index: int, form: Form) -> list[Flag]:
        return [*form.flags, *self.form_flags.get((file_index, form_index), [])]


class Rule(Protocol):
    name: str
    description: str

    def check(self, ctx: MailContext) -> bool:
        """Record what the rule finds on ``ctx``; return True when it found something."""
        ...
