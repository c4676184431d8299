"""Pure form parsers: bytes in, records out. Nothing here knows about mail or databases."""

from parsers.records import FileResult, Flag, Form

__all__ = ["FileResult", "Flag", "Form"]
