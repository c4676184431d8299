"""What a rule sees (``MailContext``, read only) and what it returns (``Findings``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mailintake.campaign.identity import UnitNamer, normalise_unit
from mailintake.config.settings import Settings
from mailintake.mail.model import Attachment, ParsedMail
from parsers.records import FileResult, Flag, Form

#: per-form flags added by mail-level rules, keyed by (file index, form index)
FormFlags = Mapping[tuple[int, int], tuple[Flag, ...]]


@dataclass(frozen=True)
class FileOutcome:
    """One candidate file of the mail and what the parser made of it."""

    attachment: Attachment
    result: FileResult
    sha256: str
    storage_path: str | None


@dataclass(frozen=True)
class Quota:
    """What the quota rule needs, passed in by the stage that holds the database session."""

    #: per (table, unit as grouped by the unit namer): the identity keys of its current submissions
    counted: Mapping[tuple[int, str], frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MailContext:
    """Everything the rules may look at; a rule never changes it."""

    mail: ParsedMail
    received_at: dt.datetime
    settings: Settings
    files: tuple[FileOutcome, ...] = ()
    quota: Quota = Quota()
    #: how unit names are grouped (the roster's name for a matching alias)
    unit_namer: UnitNamer = normalise_unit

    def forms(self) -> list[tuple[int, int, FileOutcome, Form]]:
        """Every form in arrival order: (file index, form index, file, form)."""
        return [
            (fi, ri, outcome, form)
            for fi, outcome in enumerate(self.files)
            for ri, form in enumerate(outcome.result.forms)
        ]


@dataclass(frozen=True)
class Findings:
    """What one rule found, or (collected by the chain) what all of them found."""

    #: mail-level defects that require a correction
    defects: tuple[Flag, ...] = ()
    #: mail-level notes that change nothing (e.g. a scan sent beside the Word form)
    notes: tuple[Flag, ...] = ()
    form_flags: FormFlags = field(default_factory=dict)
    ignored_reason: str | None = None
    late: bool = False
    #: the mail's files as the rule rewrote them (a page linked to its form), None when unchanged
    files: tuple[FileOutcome, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.defects or self.form_flags or self.ignored_reason or self.late or self.files is not None)

    def add(self, other: Findings) -> Findings:
        """These findings followed by ``other``'s."""
        form_flags = {key: tuple(flags) for key, flags in self.form_flags.items()}
        for key, flags in other.form_flags.items():
            form_flags[key] = (*form_flags.get(key, ()), *flags)
        return Findings(
            defects=(*self.defects, *other.defects),
            notes=(*self.notes, *other.notes),
            form_flags=form_flags,
            ignored_reason=self.ignored_reason or other.ignored_reason,
            late=self.late or other.late,
            files=other.files if other.files is not None else self.files,
        )

    def all_form_flags(self, file_index: int, form_index: int, form: Form) -> list[Flag]:
        return [*form.flags, *self.form_flags.get((file_index, form_index), ())]


class Rule(Protocol):
    name: str
    description: str

    def check(self, ctx: MailContext) -> Findings:
        """What the rule finds about the mail in ``ctx`` (empty findings: nothing)."""
        ...
