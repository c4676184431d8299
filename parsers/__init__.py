"""Pure form parsers: bytes in, records out. Nothing here knows about mail or databases."""

from parsers.definitions import FieldDefinition, FormDefinition, FormSet, load_definitions
from parsers.parse import is_form_format, parse_document, parse_path
from parsers.records import FileResult, Flag, Form
from parsers.safety import Limits, check_zip
from parsers.wordcount import count_chars

__all__ = [
    "FieldDefinition",
    "FileResult",
    "Flag",
    "Form",
    "FormDefinition",
    "FormSet",
    "Limits",
    "check_zip",
    "count_chars",
    "is_form_format",
    "load_definitions",
    "parse_document",
    "parse_path",
]
