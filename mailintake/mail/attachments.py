"""Walk a parsed message's MIME tree once: find the body text and the files a person attached.

The walk is iterative with a depth cap (a hostile mail may nest 1,000 levels). Images an HTML body
shows (referenced by ``cid:``), signature logos, picture parts nothing names as a file, S/MIME and PGP
signatures and vCards are not files the applicant chose to send and are left out; everything else
attached — forms or not, a photo iPhone Mail sends "inline" included — is a candidate, typed by its
bytes. The same bytes twice are one file (:class:`~mailintake.mail.archives.Budget`).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message

from mailintake.mail.archives import Budget, add_candidate
from mailintake.mail.headers import clean_text, decode_bytes, parse_params
from parsers.records import Flag
from parsers.sniff import IMAGES, detect_format

MAX_MIME_DEPTH = 40
MAX_MIME_PARTS = 10_000
MAX_BODY_CHARS = 100_000
#: images below this size are taken for signature logos and icons
LOGO_BYTES = 10 * 1024

_SKIPPED_TYPES = frozenset({
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature",
    "application/pgp-keys", "text/vcard", "text/x-vcard", "text/directory",
})
_OUTLOOK_IMAGE = re.compile(r"^image\d{3}\.(png|jpe?g|gif|bmp)$", re.IGNORECASE)
_B64_WS = re.compile(rb"\s+")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_EXT = {"jpeg": "jpg", "text": "txt", "tnef": "dat", "unknown": "bin", "empty": "bin", "encrypted": "docx",
        "ole": "bin", "odf": "odf", "gzip": "gz"}
_HTML_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_BREAK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n(?:[ \t\r\f\v]*\n)+")
_CID_REF = re.compile(r"cid:([^\"'\s<>()]+)", re.IGNORECASE)


@dataclass
class WalkResult:
    body_text: str = ""
    flags: list[Flag] = field(default_factory=list)


def _raw_header(part: Message, name: str) -> str | None:
    """The raw (surrogate-escaped) value of the first ``name`` header of a part."""
    lname = name.lower()
    for key, value in part.raw_items():
        if key.lower() == lname:
            return str(value)
    return None


def payload_bytes(part: Message) -> tuple[bytes, bool]:
    """The decoded payload of a leaf part and whether it decoded cleanly (base64 leniently)."""
    # Not get_payload(): for 8-bit parts it decodes with the declared charset and "replace",
    # which loses every GBK-only character under a gb2312 label.
    payload = getattr(part, "_payload", None)
    if not isinstance(payload, str):
        return b"", True
    try:
        raw = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        raw = payload.encode("utf-8", "surrogateescape")
    cte = (_raw_header(part, "content-transfer-encoding") or "").strip().lower()
    if "base64" in cte:
        return _b64(raw)
    if "quoted-printable" in cte:
        try:
            return binascii.a2b_qp(raw), True
        except (binascii.Error, ValueError):
            return raw, False
    return raw, True


def _b64(raw: bytes) -> tuple[bytes, bool]:
    data = _B64_WS.sub(b"", raw)
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True), True
    except (binascii.Error, ValueError):
        pass
    cleaned = _B64_JUNK.sub(b"", data.split(b"=", 1)[0] if b"=" in data[:-2] else data)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
    try:
        decoded = base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b"", False
    return decoded, bool(decoded) or not data


def html_to_text(markup: str) -> str:
    """Readable text from an HTML body: scripts/styles dropped, block ends become line breaks."""
    text = _HTML_DROP.sub("", markup)
    text = _HTML_BREAK.sub("\n", text)
    text = html.unescape(_HTML_TAG.sub("", text)).replace("\xa0", " ")
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _body_text(part: Message, subtype: str, charset: str | None) -> str:
    data, _ = payload_bytes(part)
    text = decode_bytes(data[: MAX_BODY_CHARS * 4], charset)
    text = text.replace("\x00", "")
    text = html_to_text(text) if subtype == "html" else text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text[:MAX_BODY_CHARS]


def _describe(part: Message) -> tuple[str, str, dict[str, str], str]:
    """(disposition, filename, content-type params, Content-ID without <>), from one pass over the headers."""
    raw: dict[str, str] = {}
    for key, value in part.raw_items():
        name = key.lower()
        if name in ("content-type", "content-disposition", "content-id") and name not in raw:
            raw[name] = str(value)
    disposition, dparams = parse_params(raw.get("content-disposition"))
    _, cparams = parse_params(raw.get("content-type"))
    name = dparams.get("filename") or cparams.get("name") or ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    content_id = raw.get("content-id", "").strip().strip("<>").strip().lower()
    return disposition, clean_text(name, limit=255).lstrip(". "), cparams, content_id


def _is_image(fmt: str, content_type: str) -> bool:
    return fmt in IMAGES or content_type.startswith("image/")


def _is_logo(filename: str, size: int) -> bool:
    """A signature logo or icon that lost its place in the body (a tiny image, Outlook's image001.png)."""
    return size < LOGO_BYTES or bool(_OUTLOOK_IMAGE.match(filename))


def _cid_references(parts: list[Message]) -> set[str]:
    """The Content-IDs the HTML bodies show (``<img src="cid:…">``), lower case."""
    found: set[str] = set()
    for part in parts:
        data, _ = payload_bytes(part)
        text = data[: MAX_BODY_CHARS * 4].decode("ascii", errors="replace")
        found.update(urllib.parse.unquote(ref).strip().lower() for ref in _CID_REF.findall(text))
    return found


@dataclass
class _Image:
    """An image with a Content-ID: a decoration if an HTML body shows it, else an attachment."""

    filename: str
    data: bytes
    content_type: str
    fmt: str
    content_id: str


def walk(message: Message, budget: Budget) -> WalkResult:
    """Collect the body text and hand every attached file to ``budget`` (archives expanded there)."""
    result = WalkResult()
    plain: str | None = None
    html_text: str | None = None
    stack: list[tuple[Message, int, bool]] = [(message, 0, False)]
    seen = 0
    unnamed = 0
    too_deep = False
    html_parts: list[Message] = []
    with_cid: list[_Image] = []
    while stack:
        part, depth, in_attached_mail = stack.pop()
        seen += 1
        if seen > MAX_MIME_PARTS:
            result.flags.append(Flag("unreadable",
                                     f"邮件包含的内容块超过 {MAX_MIME_PARTS} 个，其余部分未读取，请精简后重新发送。"))
            break
        content_type = part.get_content_type()
        if part.is_multipart():
            if depth >= MAX_MIME_DEPTH:
                too_deep = True
                continue
            children = part.get_payload()
            nested = in_attached_mail or content_type == "message/rfc822"
            if isinstance(children, list):
                stack.extend((child, depth + 1, nested) for child in reversed(children) if isinstance(child, Message))
            continue
        if content_type in _SKIPPED_TYPES or content_type == "message/delivery-status":
            continue
        disposition, filename, cparams, content_id = _describe(part)
        maintype, _, subtype = content_type.partition("/")
        if maintype == "text" and subtype in ("plain", "html") and not filename and disposition != "attachment":
            if subtype == "html":
                html_parts.append(part)
            if not in_attached_mail:
                if subtype == "plain" and plain is None:
                    plain = _body_text(part, subtype, cparams.get("charset"))
                elif subtype == "html" and html_text is None:
                    html_text = _body_text(part, subtype, cparams.get("charset"))
            continue
        if budget.capped:
            continue
        data, clean = payload_bytes(part)
        if not clean and not data:
            shown = filename or "未命名附件"
            result.flags.append(Flag("unreadable", f"附件“{shown}”的编码已损坏，无法解码，请重新发送。"))
            continue
        fmt = detect_format(data)
        if _is_image(fmt, content_type):
            # a logo, or a picture part nothing names as a file (no name, no disposition: a body's part)
            if _is_logo(filename, len(data)) or (not filename and disposition != "attachment"):
                continue
            if content_id:  # decided once every HTML body has been seen
                with_cid.append(_Image(filename, data, content_type, fmt, content_id))
                continue
        if not filename:
            unnamed += 1
            filename = f"未命名附件{unnamed}.{_EXT.get(fmt, fmt)}"
        add_candidate(filename, data, budget, content_type, fmt=fmt)
    referenced = _cid_references(html_parts) if with_cid else set()
    for image in with_cid:
        if image.content_id in referenced or budget.capped:
            continue
        if not image.filename:
            unnamed += 1
        name = image.filename or f"未命名附件{unnamed}.{_EXT.get(image.fmt, image.fmt)}"
        add_candidate(name, image.data, budget, image.content_type, fmt=image.fmt)
    if too_deep:
        result.flags.append(Flag("unreadable", f"邮件结构嵌套超过 {MAX_MIME_DEPTH} 层，深层内容未读取，请重新发送。"))
    result.body_text = plain if plain else (html_text or "")
    return result
