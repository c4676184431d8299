"""Tell a file's real type from its bytes — never from its name or declared MIME type."""

from __future__ import annotations

import io
import struct
import zipfile

#: formats a Word form can arrive in, besides .docx
CONVERTIBLE = frozenset({"doc", "wps", "rtf", "odt", "docm"})
ARCHIVES = frozenset({"zip", "7z", "rar", "tnef", "msg"})
IMAGES = frozenset({"png", "jpeg", "gif", "bmp", "tiff", "webp"})

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: an Outlook item's property streams are named __substg1.0_XXXXXXXX (UTF-16 in the OLE directory)
_MSG_STREAM = "__substg1.0_".encode("utf-16-le")
#: what a Word form or an archive of forms is called; such a file that does not read is a failure
_FORM_SUFFIXES = (".docx", ".docm", ".doc", ".wps", ".rtf", ".odt", ".zip", ".rar", ".7z", ".dat")
#: the flag codes of a file that was tried as a form and could not be read
READING_FAILURES = frozenset({"unreadable", "unsupported_format"})


def tried_as_form(fmt: str, name: str) -> bool:
    """True when the service tried to read the file as a form (a Word format, an archive, an encrypted or
    empty file, or anything named like one); False for a scan, a photo, a PDF, a spreadsheet — files that
    came beside a form (其他附件), whose flags only say why they hold no form."""
    if fmt in {"docx", "encrypted", "empty"} | CONVERTIBLE | ARCHIVES:
        return True
    return fmt not in IMAGES and fmt != "pdf" and name.lower().endswith(_FORM_SUFFIXES)


def reading_failure(code: str, fmt: str, name: str) -> bool:
    """A flag that belongs in the report's 无法识别的附件: a form file that could not be read."""
    return code in READING_FAILURES and tried_as_form(fmt, name)


def _zip_names(data: bytes) -> list[str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None


def _first_local_name(data: bytes) -> str:
    """The first member name from the first local header (works on truncated zips)."""
    if len(data) < 30:
        return ""
    name_len = struct.unpack_from("<H", data, 26)[0]
    return data[30 : 30 + name_len].decode("cp437", errors="replace")


def _ooxml_kind(names: list[str], content_types: bytes) -> str:
    if "word/document.xml" in names or any(n.startswith("word/") for n in names):
        return "docm" if b"macroEnabled" in content_types else "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    return "zip"


def _zip_kind(data: bytes) -> str:
    names = _zip_names(data)
    if names is None:
        first = _first_local_name(data)
        if first in ("[Content_Types].xml", "_rels/.rels") or first.startswith("word/"):
            return "docx"
        if first == "mimetype" and b"opendocument.text" in data[:200]:
            return "odt"
        return "zip"
    if "[Content_Types].xml" in names:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                info = archive.getinfo("[Content_Types].xml")
                content_types = archive.read(info) if info.file_size < 1_000_000 else b""
        except Exception:  # a damaged member is the parser's business, not the sniffer's
            content_types = b""
        return _ooxml_kind(names, content_types)
    if "mimetype" in names:
        if b"application/vnd.oasis.opendocument.text" in data[:200]:
            return "encrypted" if _odf_encrypted(data) else "odt"
        if b"application/vnd.oasis.opendocument" in data[:200]:
            return "odf"
    return "zip"


def _odf_encrypted(data: bytes) -> bool:
    """An OpenDocument file saved with a password lists encryption data in its manifest."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("META-INF/manifest.xml")
            return info.file_size < 1_000_000 and b"encryption-data" in archive.read(info)
    except Exception:  # no manifest, or a damaged one: the converter will say what it can
        return False


#: the FIB's fEncrypted bit (Word 97-2003 and WPS saved with a password to open)
_FIB_ENCRYPTED = 0x0100


def _word_encrypted(ole: object) -> bool:
    try:
        with ole.openstream("WordDocument") as stream:  # type: ignore[attr-defined]
            head = stream.read(12)
    except Exception:  # a damaged stream is the converter's business
        return False
    return len(head) >= 12 and head[:2] == b"\xec\xa5" and bool(struct.unpack_from("<H", head, 10)[0] & _FIB_ENCRYPTED)


def _ole_kind(data: bytes) -> str:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:  # olefile raises bare OSError/struct errors on damaged files
        return "msg" if _MSG_STREAM in data else "doc"
    try:
        streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
        word_encrypted = "WordDocument" in streams and _word_encrypted(ole)
    finally:
        ole.close()
    if "EncryptedPackage" in streams or word_encrypted:
        return "encrypted"
    if "WordDocument" in streams:
        return "doc"
    if "Workbook" in streams or "Book" in streams:
        return "xls"
    if "PowerPoint Document" in streams:
        return "ppt"
    if "__properties_version1.0" in streams or any(s.startswith("__substg1.0_") for s in streams):
        return "msg"
    return "ole"


def never_converted(data: bytes) -> bool:
    """True when the first bytes already rule LibreOffice out, without opening the archive: a zip is
    converted only as an OpenDocument text, whose ``mimetype`` member (naming it) comes first."""
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06") and b"opendocument.text" not in data[:200]


def detect_format(data: bytes) -> str:
    """Return a short format name: docx, docm, doc, wps, rtf, odt, pdf, zip, 7z, rar, tnef, msg (Outlook item),
    png/jpeg/gif/bmp/tiff/webp, encrypted, xlsx, xls, html, text, empty or unknown."""
    if not data:
        return "empty"
    head = data[:16]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(data)
    if head.startswith(_OLE_MAGIC):
        return _ole_kind(data)
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"\x78\x9f\x3e\x22"):
        return "tnef"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    sample = data[:512].lstrip().lower()
    if sample.startswith((b"<!doctype html", b"<html")):
        return "html"
    if b"\x00" not in data[:4096]:
        return "text"
    return "unknown"
