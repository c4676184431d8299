"""Header decoding that survives what Chinese mail clients actually send.

The standard library and mail-parser decode a ``gb2312`` word strictly, so a GBK-only character
(镕, 喆, 堃, 珺 ...) is lost; they decode each encoded word on its own, so a character split across
two words is lost; and raw 8-bit header bytes arrive as surrogate-escaped text. Here:

- every gb2312/gbk/cp936 label decodes as gb18030 (a strict superset);
- adjacent encoded words in the same charset are joined as bytes before decoding;
- raw 8-bit bytes are recovered and tried as UTF-8, then GB18030;
- RFC 2231 parameters (``filename*0*=``...) are joined as bytes before decoding.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import urllib.parse
from collections.abc import Iterator

#: labels decoded as gb18030: Chinese clients label GBK text gb2312 all the time
_GB_FAMILY = frozenset({"gb2312", "gbk", "cp936", "x-gbk", "gb18030", "euc-cn", "x-euc-cn", "hz-gb-2312",
                        "csgb2312", "gb_2312-80", "chinese", "ms936", "windows-936", "936"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=")
_WSP_ONLY = re.compile(r"[ \t\r\n]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_LINE_BREAKS = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")
_MULTI_SPACE = re.compile(r"[ \t]{2,}")
_TWO_BYTE_UTF8 = re.compile("[\u0080-\u07ff]")
_CJK = re.compile("[\u2000-\u206f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def normalize_charset(label: str | None) -> str:
    """A Python codec name for a MIME charset label: the GB family becomes gb18030, unknown -> ''."""
    if not label:
        return ""
    name = label.strip().strip('"').lower().split("*", 1)[0]
    if name in _GB_FAMILY:
        return "gb18030"
    if name in ("unknown-8bit", "x-unknown", "8bit", "default"):
        return ""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return ""
    return "gb18030" if codec in ("gb2312", "gbk", "hz") else codec


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode bytes in the declared charset; fall back to UTF-8, then GB18030, never raise."""
    codec = normalize_charset(charset)
    if codec and codec not in ("us-ascii", "ascii"):
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _prefer_gb18030(data, text)
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    return data.decode(codec or "utf-8", errors="replace") if codec else data.decode("utf-8", errors="replace")


def _chinese_only(text: str) -> bool:
    return all(ch < "\x80" or _CJK.match(ch) for ch in text)


def _latin_words(text: str) -> bool:
    """Every non-ASCII character is a Latin letter inside a word of ASCII letters (Jöhn, mächine):
    RFC 6532 UTF-8 from a European client, which GBK bytes practically never read as."""
    letters = [i for i, ch in enumerate(text) if ch >= "\x80"]
    if not letters:
        return False
    for i in letters:
        if not ("\u00c0" <= text[i] <= "\u024f" and text[i] not in "\u00d7\u00f7"):
            return False
        near = text[i - 1 : i] + text[i + 1 : i + 2]
        if not any(ch.isascii() and ch.isalpha() for ch in near):
            return False
    return True


def _prefer_gb18030(data: bytes, utf8_text: str) -> str:
    """Short GBK byte strings are often valid UTF-8 too (一 is D2 BB, U+04BB in UTF-8): when the UTF-8
    reading holds two-byte-sequence characters (Latin, Cyrillic...) and the GB18030 reading is plain
    Chinese, the bytes were GBK — unless the UTF-8 reading is Latin letters within words."""
    if not _TWO_BYTE_UTF8.search(utf8_text) or _latin_words(utf8_text):
        return utf8_text
    try:
        gb_text = data.decode("gb18030")
    except UnicodeDecodeError:
        return utf8_text
    return gb_text if _chinese_only(gb_text) else utf8_text


def recover_raw(value: str) -> str:
    """Turn surrogate-escaped 8-bit header text (from the stdlib parser) back into real text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that was never a byte
        return value.encode("utf-8", "replace").decode("utf-8")
    return decode_bytes(data)


def _b_decode(text: str) -> bytes:
    data = _B64_JUNK.sub(b"", text.encode("ascii", "ignore"))
    if len(data) % 4 == 1:
        data = data[:-1]
    data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return b""


def _q_decode(text: str) -> bytes:
    raw = text.encode("ascii", "surrogateescape").replace(b"_", b" ")
    return _Q_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _word_bytes(encoding: str, text: str) -> bytes:
    return _b_decode(text) if encoding in "bB" else _q_decode(text)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words anywhere in ``value`` (leniently: inside quotes, glued to text).

    Runs of words separated only by whitespace are joined; consecutive words in the same charset are
    joined as bytes first, so a character split across two words comes out whole.
    """
    value = recover_raw(value)
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    pending: bytearray = bytearray()
    pending_charset = ""
    in_run = False

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(bytes(pending), pending_charset))
        pending = bytearray()
        pending_charset = ""

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if gap and not (in_run and _WSP_ONLY.fullmatch(gap)):
            flush()
            out.append(gap)
        charset = normalize_charset(match.group(1)) or match.group(1).lower()
        if charset != pending_charset:
            flush()
        pending_charset = charset
        pending += _word_bytes(match.group(2), match.group(3))
        in_run = True
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def clean_text(value: str, *, limit: int = 2000) -> str:
    """One line of display text: folding undone, CR/LF/NUL/control characters gone, length capped."""
    value = _LINE_BREAKS.sub(" ", value[: limit * 4])
    value = _CONTROL.sub("", value).replace("\t", " ")
    value = _MULTI_SPACE.sub(" ", value).strip()
    return value[:limit]


def decode_header(value: str | None, *, limit: int = 2000) -> str:
    """Decode a raw header value (encoded words, raw 8-bit bytes) into one clean line."""
    if not value:
        return ""
    return clean_text(decode_words(value[: limit * 8]), limit=limit)


def _split_params(value: str) -> Iterator[str]:
    """Split ``a; b="x;y"; c`` on semicolons outside quotes."""
    start = 0
    quoted = False
    escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            yield value[start:i]
            start = i + 1
    yield value[start:]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        # Only \" and \\ are escapes: a raw GBK trail byte can be 0x5C and must survive.
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def parse_params(value: str | None, *, max_params: int = 1000) -> tuple[str, dict[str, str]]:
    """Parse a Content-Type / Content-Disposition value into (lowercased main value, params).

    RFC 2231 continuations and charsets are joined as bytes and decoded once (gb2312 as gb18030);
    RFC 2047 words inside quoted values (what Outlook, QQ Mail and 163 send) are decoded too.
    """
    if not value:
        return "", {}
    value = value[:200_000]
    pieces = _split_params(value)
    main = recover_raw(next(pieces, "")).strip().lower()
    plain: dict[str, str] = {}
    extended: dict[str, dict[int, tuple[bool, str]]] = {}
    for count, piece in enumerate(pieces):
        if count >= max_params:
            break
        name, sep, raw = piece.partition("=")
        if not sep:
            continue
        name = name.strip().lower()
        if not name or name.startswith("*"):
            continue
        if "*" in name:
            base, _, rest = name.partition("*")
            encoded = rest.endswith("*") or rest == ""
            index_text = rest.rstrip("*")
            index = int(index_text) if index_text.isdigit() else 0
            extended.setdefault(base, {})[index] = (encoded, _unquote(raw))
        else:
            plain[name] = _unquote(raw)
    params = {name: clean_text(decode_words(text)) for name, text in plain.items()}
    for name, sections in extended.items():
        decoded = _join_rfc2231(sections)
        if decoded:
            params[name] = clean_text(decoded)
    return main, params


def _join_rfc2231(sections: dict[int, tuple[bool, str]]) -> str:
    charset = ""
    data = bytearray()
    for index in sorted(sections)[:1000]:
        encoded, text = sections[index]
        if encoded:
            if index == sorted(sections)[0] and text.count("'") >= 2:
                charset, _lang, text = text.split("'", 2)
            data += urllib.parse.unquote_to_bytes(text.encode("ascii", "surrogateescape"))
        else:
            data += recover_raw(text).encode("utf-8", "surrogateescape")
    text = decode_bytes(bytes(data), charset)
    return decode_words(text) if "=?" in text else text


def encode_words(text: str, charset: str = "utf-8", encoding: str = "B", *, max_bytes: int = 45,
                 codec: str | None = None) -> list[str]:
    """Encode text as RFC 2047 words of at most ``max_bytes`` raw bytes each, splitting anywhere —
    even inside a character, as some clients do. ``codec`` produces the bytes (default: the label's);
    GBK text under a gb2312 label is what Outlook sends. Used by the sample builder and the tests."""
    data = text.encode(codec or normalize_charset(charset) or charset)
    chunks = [data[i : i + max_bytes] for i in range(0, len(data), max_bytes)] or [b""]
    words = []
    for chunk in chunks:
        if encoding.upper() == "B":
            payload = base64.b64encode(chunk).decode("ascii")
        else:
            payload = "".join(
                chr(b) if (chr(b).isalnum() and b < 128) else "_" if b == 32 else f"={b:02X}" for b in chunk
            )
        words.append(f"=?{charset}?{encoding.upper()}?{payload}?=")
    return words
