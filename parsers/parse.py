"""The library call behind ``mailintake parse`` and the mail pipeline: bytes in, records out."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from parsers import messages
from parsers.convert import ConversionError, resolve_soffice, to_docx
from parsers.definitions import FormSet, load_definitions
from parsers.docx_grid import Block, Table, read_docx
from parsers.extract import extract_forms
from parsers.records import FileResult, Flag
from parsers.rules import build_form
from parsers.safety import MB, Limits, UnsafeFile
from parsers.sniff import CONVERTIBLE, detect_format, never_converted

log = logging.getLogger(__name__)

#: formats read directly as Office Open XML
DIRECT = frozenset({"docx", "docm"})

#: (file bytes, LibreOffice source format) -> the .docx bytes; raises ConversionError or OSError
Converter = Callable[[bytes, str], bytes]


def is_form_format(fmt: str) -> bool:
    """True for formats a form can be read from: .docx, or anything LibreOffice converts to it."""
    return fmt in DIRECT or fmt in CONVERTIBLE


def _refine(fmt: str, filename: str) -> str:
    """WPS writes the same OLE container as Word 97; the extension only names which one it was."""
    if fmt == "doc" and filename.lower().endswith(".wps"):
        return "wps"
    return fmt


def converted_limits(limits: Limits) -> Limits:
    """Limits for the .docx LibreOffice wrote from a legacy file: the applicant's own bytes were checked
    already; our converter's output (an embedded object compresses very well) is bounded by its total
    inflated size only, never refused for its compression ratio or its packed size."""
    return replace(limits, max_compression_ratio=2**31, max_file_bytes=max(limits.max_file_bytes,
                                                                          limits.max_uncompressed_bytes))


def _refusal(data: bytes, fmt: str, name: str, limits: Limits) -> Flag | None:
    """Why a file is not read at all: too large, encrypted, empty, or not a format forms come in."""
    if len(data) > limits.max_file_bytes:
        return messages.unreadable(name, f"文件超过{limits.max_file_bytes // MB}MB")
    if fmt == "encrypted":
        return messages.encrypted(name)
    if fmt == "empty":
        return messages.unreadable(name, "文件为空")
    if not is_form_format(fmt):
        return messages.unsupported(name, fmt)
    return None


def conversion_source(data: bytes, filename: str, limits: Limits) -> str | None:
    """The format LibreOffice is asked to convert from when :func:`parse_document` reads this file
    (``doc`` for a .wps), or None: read directly, or refused before any conversion."""
    if never_converted(data):  # most files: a .docx, told apart without unpacking it
        return None
    fmt = _refine(detect_format(data), filename)
    if fmt in DIRECT or _refusal(data, fmt, Path(filename).name or filename, limits) is not None:
        return None
    return "doc" if fmt == "wps" else fmt


def _one_shot(soffice: str | None) -> Converter | None:
    binary = resolve_soffice(soffice)
    return None if binary is None else partial(to_docx, soffice=binary)


def parse_document(data: bytes, filename: str, *, definitions: FormSet | None = None, limits: Limits | None = None,
                   max_chars: int = 1000, soffice: str | None = "auto",
                   converter: Converter | None = None) -> FileResult:
    """Read every form in one file. Never raises on bad input: problems become file-level flags.

    ``filename`` is only a display name (and a hint for telling 表3 from 表4 without a title);
    the format comes from the bytes. .doc/.wps/.rtf/.odt go through ``converter`` when given (a warm
    LibreOffice, or a conversion done beforehand), else a one-shot LibreOffice: ``soffice`` "auto"
    finds it on PATH, None disables conversion.
    """
    definitions = definitions or load_definitions()
    limits = limits or Limits()
    name = Path(filename).name or filename
    fmt = _refine(detect_format(data), filename)
    result = FileResult(file=filename, format=fmt)
    refusal = _refusal(data, fmt, name, limits)
    if refusal is not None:
        result.flags.append(refusal)
        return result
    docx = data
    read_limits = limits
    if fmt not in DIRECT:
        convert = converter or _one_shot(soffice)
        if convert is None:
            result.flags.append(messages.no_converter(name, fmt))
            return result
        try:
            docx = convert(data, "doc" if fmt == "wps" else fmt)
        except (ConversionError, OSError):
            result.flags.append(messages.unreadable(name, "文件已损坏或格式无法转换"))
            return result
        read_limits = converted_limits(limits)
    try:
        blocks = read_docx(docx, read_limits)
        found_forms = extract_forms(blocks, definitions, filename=name)
    except UnsafeFile as exc:
        reason = exc.reason
        if reason == "文件设有密码保护":
            result.flags.append(messages.encrypted(name))
        else:
            result.flags.append(messages.unreadable(name, reason))
        return result
    except Exception:  # a parser bug must not lose the attachment: it becomes a flag, logged for a fix
        log.exception("parsing %s failed", filename)
        result.flags.append(messages.unreadable(name, "文件内容无法解析"))
        return result
    for found in found_forms:
        result.forms.append(build_form(found.definition, found.fields, max_chars=max_chars))
    if fmt == "docm":
        # read as XML only: the macros (vbaProject.bin) are never opened, let alone run
        result.flags.append(Flag("macro_ignored", f"附件“{name}”为启用宏的 Word 文档（.docm），其中的宏未运行，"
                                                  "已按普通 Word 文档读取；今后请另存为 .docx 格式发送。"))
    if not result.forms:
        result.flags.append(messages.no_form(name, [form.table for form in definitions.tables]))
        result.page_text = page_text(blocks)
    else:
        result.page_text = trailing_text(blocks)
    return result


#: a separate page longer than this is not a page of a form (a whole report, a book)
MAX_PAGE_CHARS = 20_000


def page_text(blocks: list[Block]) -> str:
    """The text of a document made of paragraphs only — a candidate 附页 — else ""."""
    if any(isinstance(block, Table) for block in blocks):
        return ""
    text = "\n".join(line for block in blocks if (line := block.text.strip()))
    return text if len(text) <= MAX_PAGE_CHARS else ""


#: the template's own lines after a form's table (“注：……如填写不下，可单独附页。”), never an applicant's page
_TEMPLATE_NOTE = re.compile(r"^注\s*[:：]|单独附页|可另附")


def trailing_text(blocks: list[Block]) -> str:
    """The paragraphs after a form document's last table: pages appended after the form (单独附页), else ""."""
    last = max((index for index, block in enumerate(blocks) if isinstance(block, Table)), default=None)
    if last is None:
        return ""
    lines = [line for block in blocks[last + 1:]
             if (line := block.text.strip()) and not _TEMPLATE_NOTE.search(line)]
    text = "\n".join(lines)
    return text if len(text) <= MAX_PAGE_CHARS else ""


def parse_path(path: str | Path, **kw: object) -> FileResult:
    """parse_document on a file; the path as given is the display name. A missing file raises OSError."""
    data = Path(path).read_bytes()
    return parse_document(data, str(path), **kw)  # type: ignore[arg-type]
