"""Files to attach to the sample mails: zips (GBK names, symlinks, bombs), TNEF winmail.dat, tiny documents
and images."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterable


class _RawNameInfo(zipfile.ZipInfo):
    """A ZipInfo writing its name as given bytes without the UTF-8 flag (what Windows tools do)."""

    raw_name: bytes = b""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.raw_name, self.flag_bits & ~0x800


def zip_archive(members: Iterable[tuple[str, bytes]] | dict[str, bytes], *, names: str = "gbk",
                compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``members``. ``names="gbk"`` stores names as GBK bytes without the UTF-8 flag
    (Windows Explorer, WinRAR, forwarding centres); ``"utf-8"`` lets zipfile flag them UTF-8."""
    items = members.items() if isinstance(members, dict) else members
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in items:
            if names == "utf-8" or name.isascii():
                info = zipfile.ZipInfo(name, date_time=(2019, 12, 16, 10, 0, 0))
            else:
                raw = name.encode(names)
                info = _RawNameInfo(raw.decode("cp437"), date_time=(2019, 12, 16, 10, 0, 0))
                info.raw_name = raw
            info.compress_type = compression
            archive.writestr(info, data)
    return out.getvalue()


def symlink_zip(link_name: str, target: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip holding a Unix symlink member (and optional regular members)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo(link_name)
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, target)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def bomb_zip(size: int = 300 * 1024 * 1024, name: str = "表1.docx") -> bytes:
    """A small zip declaring one highly compressed member of ``size`` zero bytes (built in chunks)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        chunk = b"\x00" * (1024 * 1024)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as stream:
            for _ in range(size // len(chunk)):
                stream.write(chunk)
    return out.getvalue()


def _tnef_attr(level: int, name_id: int, type_id: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, name_id, type_id, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef_archive(files: Iterable[tuple[str, bytes]], *, codepage: int = 936) -> bytes:
    """A winmail.dat (TNEF) the way Chinese Outlook writes it: titles in the OEM code page (GBK)."""
    codec = f"cp{codepage}"
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attr(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += _tnef_attr(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))
    for name, data in files:
        out += _tnef_attr(2, 0x9002, 0x0006, b"\x01\x00" + b"\xff" * 8 + b"\x00" * 4)
        out += _tnef_attr(2, 0x8010, 0x0001, name.encode(codec) + b"\x00")
        out += _tnef_attr(2, 0x800F, 0x0006, data)
    return out


def minimal_docx(text: str = "表1.改革创新标兵单位申报表") -> bytes:
    """A tiny but well-formed .docx holding one paragraph (real forms come from the form samples)."""
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>")
    content_types = ('<?xml version="1.0" encoding="UTF-8"?>'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" '
                     'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                     'officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>')
    return zip_archive([("[Content_Types].xml", content_types.encode()), ("_rels/.rels", rels.encode()),
                        ("word/document.xml", document.encode())], names="utf-8")


def png_image(size: int = 2048) -> bytes:
    """PNG-signed bytes of ``size`` (enough for type sniffing; not a decodable picture)."""
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    return head + bytes(i % 251 for i in range(max(size - len(head), 0)))


def jpeg_image(size: int = 50_000) -> bytes:
    """JPEG-signed bytes of ``size`` (a scanned page, say)."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return head + bytes(i % 251 for i in range(max(size - len(head), 0)))
