"""Records the parsers hand out: plain dataclasses, no behaviour beyond serialisation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Flag:
    """One defect, written for the applicant (formal Simplified Chinese in ``message``).

    ``code`` is one of: incomplete, overlong, unreadable, unsupported_format, no_form
    (file level), plus codes the mail pipeline adds (late, quota_exceeded, too_large, ...).
    ``field`` names the form field key for field-level flags.
    """

    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            data["field"] = self.field
        data["message"] = self.message
        return data


@dataclass
class Form:
    """One application form (表N) found in a document."""

    table: int
    title: str
    fields: dict[str, str]
    word_count: int
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "title": self.title,
            "fields": dict(self.fields),
            "word_count": self.word_count,
            "flags": [f.to_dict() for f in self.flags],
        }


@dataclass
class FileResult:
    """Everything read from one file: its real format, the forms in it, file-level flags."""

    file: str
    format: str
    forms: list[Form] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    #: a separate page (附页) continuing a form's box: the text of a Word file without any table, or of a
    #: form document the paragraphs after its last table
    page_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": self.file,
            "format": self.format,
            "forms": [f.to_dict() for f in self.forms],
            "flags": [f.to_dict() for f in self.flags],
        }
        if self.page_text:
            data["page_text"] = self.page_text
        return data


__all__ = ["FileResult", "Flag", "Form", "asdict"]
