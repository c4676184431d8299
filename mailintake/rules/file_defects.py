"""Files that could not be read, and mail-level reading problems (archives, limits)."""

from __future__ import annotations

from mailintake.rules.base import MailContext
from parsers.sniff import IMAGES

#: a scan or photo sent beside a readable Word form is welcome, not a defect
_SIDE_FORMATS = IMAGES | {"pdf"}


class FileDefectsRule:
    name = "file_defects"
    description = "Unreadable or unsupported attachments, archive and size problems."

    def check(self, ctx: MailContext) -> bool:
        has_forms = bool(ctx.forms())
        found = False
        for flag in ctx.mail.flags:
            ctx.defects.append(flag)
            found = True
        for outcome in ctx.files:
            for flag in outcome.result.flags:
                informational = flag.code in ("no_form", "macro_ignored") or (
                    has_forms and flag.code == "unsupported_format" and outcome.result.format in _SIDE_FORMATS
                )
                if informational:
                    ctx.notes.append(flag)
                else:
                    ctx.defects.append(flag)
                    found = True
        return found
