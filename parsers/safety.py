"""Limits for hostile or broken files, checked before anything is inflated or parsed.

python-docx inflates every member in memory and parses XML with entity handling left to lxml's
defaults; a 0.4 MB zip bomb becomes gigabytes. Here the zip's central directory is checked first
(member count, declared sizes, compression ratios), members are read with a hard cap, and XML is
parsed with a hardened lxml parser that refuses DTDs.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from lxml import etree

MB = 1024 * 1024

#: members smaller than this are not ratio-checked (tiny XML parts compress very well)
_RATIO_MIN_BYTES = 1 * MB


@dataclass(frozen=True)
class Limits:
    """Bounds for one attachment."""

    max_file_bytes: int = 50 * MB
    max_uncompressed_bytes: int = 200 * MB
    max_compression_ratio: int = 200
    max_members: int = 2000


class UnsafeFile(ValueError):
    """Raised when a file breaks a limit or is malformed; ``reason`` is a short Chinese phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_zip(data: bytes, limits: Limits) -> str | None:
    """Return a Chinese reason when the zip must not be opened, else None. Inflates nothing."""
    if len(data) > limits.max_file_bytes:
        return f"文件超过{limits.max_file_bytes // MB}MB"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "文件已损坏或不完整"
    if len(infos) > limits.max_members:
        return "文件结构异常，包含的部件过多"
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            return "文件设有密码保护"
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            return "文件结构异常，解压后体积过大"
        if info.file_size >= _RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                return "文件结构异常，压缩比异常"
    return None


def read_member(archive: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    """Read one member, never more than the limit even if the declared size lies."""
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise UnsafeFile("文件已损坏或不完整") from exc
    cap = min(info.file_size, limits.max_uncompressed_bytes)
    try:
        with archive.open(info) as handle:
            data = handle.read(cap + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise UnsafeFile("文件已损坏或不完整") from exc
    except MemoryError as exc:  # the sandbox's RLIMIT_AS, not a damaged file
        raise UnsafeFile("文件解析所需内存超出限制") from exc
    except Exception as exc:  # zlib.error and friends from a damaged stream
        raise UnsafeFile("文件已损坏或不完整") from exc
    if len(data) > cap:
        raise UnsafeFile("文件结构异常，解压后体积过大")
    return data


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse an XML part with DTDs refused outright (Word never writes one; entity bombs need one)."""
    head = data[:4096]
    if b"<!DOCTYPE" in data or b"<!ENTITY" in head:
        raise UnsafeFile("文档内容格式异常，含有不允许的 XML 声明")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        if any(entry.type_name == "ERR_NO_MEMORY" for entry in exc.error_log):
            # libxml2 reports an exhausted address space (the sandbox's RLIMIT_AS) as a syntax error
            raise UnsafeFile("文件解析所需内存超出限制") from exc
        raise UnsafeFile("文档内容已损坏") from exc
    if root is None:
        raise UnsafeFile("文档内容已损坏")
    return root
