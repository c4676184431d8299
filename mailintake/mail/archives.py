"""Unpack archives found in mail (zip, 7z, rar, winmail.dat, Outlook .msg) into candidate files, in memory.

Nothing is written to disk, so member names (``../x``, ``/etc/x``, ``C:\\x``, symlinks) only ever
become display paths. Every limit is checked from the archive's declared sizes before anything is
inflated, and reads are bounded by those sizes.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailintake.mail.headers import decode_bytes
from mailintake.mail.model import Attachment, is_junk_path
from parsers.records import Flag
from parsers.sniff import ARCHIVES, detect_format

if TYPE_CHECKING:
    from mailintake.config.settings import LimitsSettings

MiB = 1024 * 1024
#: the other names noted on a file attached several times (a hostile mail may repeat one 10,000 times)
MAX_OTHER_NAMES = 20
_DRIVE = re.compile(r"^[A-Za-z]:$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNICODE_PATH_EXTRA = 0x7075


@dataclass(frozen=True)
class ArchiveLimits:
    """Safety limits for one mail's attachments and the archives inside them."""

    max_members: int = 500
    max_total_bytes: int = 200 * MiB
    max_member_bytes: int = 50 * MiB
    max_ratio: int = 200
    #: members smaller than this are never refused for their ratio (small XML compresses well)
    ratio_floor_bytes: int = 1 * MiB
    max_depth: int = 3
    #: candidate files per mail, after expanding archives
    max_attachments: int = 200

    @classmethod
    def from_settings(cls, limits: LimitsSettings) -> ArchiveLimits:
        return cls(
            max_members=limits.max_archive_members,
            max_total_bytes=limits.max_uncompressed_bytes,
            max_member_bytes=limits.max_attachment_bytes,
            max_ratio=limits.max_compression_ratio,
            max_depth=limits.max_archive_depth,
        )


@dataclass
class Budget:
    """What is left of one mail's allowance while its archives are expanded."""

    limits: ArchiveLimits
    bytes_left: int = 0
    files: list[Attachment] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    capped: bool = False
    #: the files kept so far by the SHA-256 of their bytes
    by_digest: dict[str, Attachment] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bytes_left = self.limits.max_total_bytes

    def add_file(self, attachment: Attachment) -> bool:
        """Keep a candidate file; False once the per-mail cap is reached (flagged once).

        The same bytes attached again under another name (Foxmail and QQ Mail add “(1)” when a file is
        added twice) are one file: kept under the first name, the other names noted on it."""
        digest = "" if attachment.junk else hashlib.sha256(attachment.data).hexdigest()
        first = self.by_digest.get(digest)
        if first is not None:
            if (attachment.path != first.path and attachment.path not in first.other_names
                    and len(first.other_names) < MAX_OTHER_NAMES):
                first.other_names.append(attachment.path)
            return True
        if len(self.files) >= self.limits.max_attachments:
            if not self.capped:
                self.capped = True
                self.flags.append(Flag("unreadable", f"邮件中的附件超过 {self.limits.max_attachments} 个，"
                                                     f"仅处理前 {self.limits.max_attachments} 个，请精简后重新发送。"))
            return False
        attachment.path = self._unique(attachment.path)
        self.files.append(attachment)
        if digest:
            self.by_digest[digest] = attachment
        return True

    def _unique(self, path: str) -> str:
        """Two files of one mail never share a display path: the second becomes ``表1（2）.docx``."""
        taken = {f.path for f in self.files}
        if path not in taken:
            return path
        head, slash, name = path.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, dot, ext = name, "", ""
        for n in range(2, len(taken) + 3):
            candidate = f"{head}{slash}{stem}（{n}）{dot}{ext}"
            if candidate not in taken:
                return candidate
        return path


def _bomb(name: str) -> Flag:
    return Flag("unreadable",
                f"压缩包“{name}”中的文件超出解压限制（疑似压缩炸弹），已拒绝处理，请直接发送 Word 申报表。")


def _corrupt(name: str) -> Flag:
    return Flag("unreadable", f"压缩包“{name}”已损坏，无法解压，请重新压缩后发送或直接发送 Word 申报表。")


def _too_many(name: str, limit: int) -> Flag:
    return Flag("unreadable", f"压缩包“{name}”中的文件超过 {limit} 个，已拒绝处理，请直接发送 Word 申报表。")


def _member_corrupt(name: str, member: str) -> Flag:
    return Flag("unreadable", f"压缩包“{name}”中的“{member}”已损坏，无法读取，请重新发送该文件。")


def _encrypted(name: str, member: str | None = None) -> Flag:
    what = f"压缩包“{name}”中的“{member}”" if member else f"压缩包“{name}”"
    return Flag("unreadable", f"{what}已加密，无法读取，请发送未加密的文件。")


def clean_member_path(name: str) -> str:
    """A display path from an archive member name: ``..``, ``.``, leading slashes, drive letters gone."""
    parts = [p.strip() for p in _CONTROL.sub("", name).replace("\\", "/").split("/")]
    parts = [p for p in parts if p and p not in (".", "..")]
    if parts and _DRIVE.match(parts[0]):
        parts = parts[1:]
    return "/".join(parts)


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or bool(parts and _DRIVE.match(parts[0]))


def _unicode_path_extra(extra: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), written by 7-Zip and WinRAR."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        if tag == _UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return None
        pos += 4 + size
    return None


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """Decode a member name: UTF-8 when flagged, else the raw bytes as UTF-8, then GB18030.

    Windows tools store names in the local code page (GBK here) without the UTF-8 flag; zipfile
    then hands out a cp437 reading of those bytes, which is undone here.
    """
    if info.flag_bits & 0x800:
        return info.filename
    unicode_name = _unicode_path_extra(info.extra)
    if unicode_name:
        return unicode_name
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    return decode_bytes(raw)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and (info.external_attr >> 16) & 0o170000 == 0o120000


def _too_big(declared: int, compressed: int, limits: ArchiveLimits, budget: Budget) -> bool:
    if declared > limits.max_member_bytes or declared > budget.bytes_left:
        return True
    return declared >= limits.ratio_floor_bytes and declared > limits.max_ratio * max(compressed, 1)


def _expand_zip(name: str, data: bytes, budget: Budget, depth: int) -> Flag | None:
    limits = budget.limits
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return _corrupt(name)
    files = [i for i in infos if not i.is_dir()]
    if len(files) > limits.max_members:
        return _too_many(name, limits.max_members)
    declared = sum(i.file_size for i in files)
    if declared > budget.bytes_left or any(_too_big(i.file_size, i.compress_size, limits, budget) for i in files):
        return _bomb(name)
    with archive:
        for info in files:
            member = clean_member_path(zip_member_name(info)) or f"未命名文件{files.index(info) + 1}"
            if _is_symlink(info):
                budget.flags.append(Flag("unsupported_format", f"压缩包“{name}”中的“{member}”是符号链接，已忽略。"))
                continue
            if info.flag_bits & 0x1:
                budget.flags.append(_encrypted(name, member))
                continue
            try:
                with archive.open(info) as stream:
                    content = stream.read(info.file_size + 1)[: info.file_size]
            except NotImplementedError:
                budget.flags.append(Flag("unsupported_format", f"压缩包“{name}”中的“{member}”使用了不支持的压缩方式，"
                                                               f"请改用常规 zip 格式或直接发送 Word 申报表。"))
                continue
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError):
                budget.flags.append(_member_corrupt(name, member))
                continue
            budget.bytes_left -= len(content)
            if not _add(f"{name}/{member}", content, budget, depth):
                break
    return None


class _MemoryFactory:
    """A py7zr writer factory keeping every member in memory, in extraction order."""

    def __init__(self, limit: int) -> None:
        import py7zr.io

        self._factory = py7zr.io.BytesIOFactory(limit)
        self.names: list[str] = []

    def create(self, filename: str) -> Any:
        self.names.append(filename)
        return self._factory.create(filename)

    def read(self, filename: str) -> bytes:
        product = self._factory.get(filename)
        product.seek(0)
        return bytes(product.read())


def _expand_7z(name: str, data: bytes, budget: Budget, depth: int) -> Flag | None:
    import py7zr
    import py7zr.io

    limits = budget.limits
    try:
        archive = py7zr.SevenZipFile(io.BytesIO(data), mode="r")
    except py7zr.PasswordRequired:
        return _encrypted(name)
    except Exception:  # py7zr raises a mix of its own, lzma, struct and value errors on damage
        return _corrupt(name)
    with archive:
        if archive.needs_password():
            return _encrypted(name)
        entries = [f for f in archive.files if not f.is_directory]
        if len(entries) > limits.max_members:
            return _too_many(name, limits.max_members)
        declared = sum(f.uncompressed for f in entries)
        too_big = any(f.uncompressed > limits.max_member_bytes for f in entries)
        if too_big or declared > budget.bytes_left or (
            declared >= limits.ratio_floor_bytes and declared > limits.max_ratio * max(len(data), 1)
        ):
            return _bomb(name)
        targets = []
        for entry in entries:
            member = clean_member_path(entry.filename)
            if entry.is_symlink or entry.is_junction:
                budget.flags.append(Flag("unsupported_format", f"压缩包“{name}”中的“{member}”是符号链接，已忽略。"))
            elif _unsafe(entry.filename):
                budget.flags.append(Flag("unsupported_format", f"压缩包“{name}”中的“{member}”路径异常，已忽略。"))
            else:
                targets.append(entry.filename)
        archive.max_extract_size = min(budget.bytes_left, declared) + 1
        factory = _MemoryFactory(limits.max_member_bytes + 1)
        try:
            archive.extract(targets=targets, factory=factory)  # type: ignore[arg-type]
        except Exception:  # see above: damage surfaces as many exception types
            return _corrupt(name)
        for written in factory.names:
            content = factory.read(written)
            budget.bytes_left -= len(content)
            if not _add(f"{name}/{clean_member_path(written)}", content, budget, depth):
                break
    return None


def _rar_name(entry: Any, index: int) -> str:
    """A member name as libarchive gives it: text when it decoded (RAR 5, RAR 4 Unicode names), else
    the raw bytes of a RAR 4 name in the packer's code page (GBK on Chinese Windows) decoded here."""
    name = entry.pathname
    if isinstance(name, bytes):
        name = decode_bytes(name)
    return clean_member_path(name or "") or f"未命名文件{index}"


def _rar_failure(name: str, exc: Exception) -> Flag:
    text = str(exc).lower()
    return _encrypted(name) if "encrypt" in text or "password" in text else _corrupt(name)


def _expand_rar(name: str, data: bytes, budget: Budget, depth: int) -> Flag | None:
    """RAR 4 and RAR 5 through libarchive: the headers are listed first (limits checked on the declared
    sizes), then the members are read, each bounded by its declared size."""
    import libarchive
    from libarchive.exception import ArchiveError

    limits = budget.limits
    # named, not sniffed by libarchive: a stored .docx inside would win the bidding as a zip
    kind = "rar5" if data.startswith(b"Rar!\x1a\x07\x01\x00") else "rar"
    listing: list[tuple[str, int, bool]] = []
    try:
        with libarchive.memory_reader(data, format_name=kind) as reader:
            for index, entry in enumerate(reader, start=1):
                if entry.isdir:
                    continue
                listing.append((_rar_name(entry, index), int(entry.size or 0), bool(entry.issym or entry.islnk)))
                if len(listing) > limits.max_members:
                    return _too_many(name, limits.max_members)
    except ArchiveError as exc:
        return _rar_failure(name, exc)
    declared = sum(size for _, size, link in listing if not link)
    if any(size > limits.max_member_bytes for _, size, _ in listing) or declared > budget.bytes_left or (
        declared >= limits.ratio_floor_bytes and declared > limits.max_ratio * max(len(data), 1)
    ):
        return _bomb(name)
    contents: list[tuple[str, bytes]] = []
    try:
        with libarchive.memory_reader(data, format_name=kind) as reader:
            entries = (entry for entry in reader if not entry.isdir)
            for (member, size, link), entry in zip(listing, entries, strict=False):
                if link:
                    budget.flags.append(Flag("unsupported_format", f"压缩包“{name}”中的“{member}”是符号链接，已忽略。"))
                    continue
                chunks: list[bytes] = []
                read = 0
                for block in entry.get_blocks():
                    read += len(block)
                    if read > size:  # more than its header declared: refused like a bomb
                        return _bomb(name)
                    chunks.append(block)
                contents.append((member, b"".join(chunks)))
    except ArchiveError as exc:
        if not contents:
            return _rar_failure(name, exc)
        budget.flags.append(_rar_failure(name, exc))
    for member, content in contents:
        budget.bytes_left -= len(content)
        if not _add(f"{name}/{member}", content, budget, depth):
            break
    return None


def _tnef_name(attachment: Any, index: int) -> str:
    try:
        long_name = attachment.long_filename() if attachment.mapi_attrs else ""
    except Exception:  # tnefparse decodes the short name as UTF-8 and may fail on GBK
        long_name = ""
    if isinstance(long_name, bytes):
        long_name = decode_bytes(long_name.rstrip(b"\x00"))
    if long_name:
        return str(long_name).strip("\x00")
    raw = attachment._name
    if isinstance(raw, bytes):
        return decode_bytes(raw.rstrip(b"\x00"))
    return str(raw).strip("\x00") or f"未命名文件{index}"


#: the body parts a winmail.dat without files may carry (Outlook's rich-text copy of the mail)
_TNEF_BODIES = ("body", "htmlbody", "rtfbody")


def _expand_tnef(name: str, data: bytes, budget: Budget, depth: int) -> Flag | None:
    from tnefparse import TNEF

    try:
        tnef = TNEF(data, do_checksum=False)
    except Exception:  # tnefparse raises value, struct and index errors on damage
        tnef = None
    empty = tnef is not None and not (tnef.attachments or any(getattr(tnef, part, None) for part in _TNEF_BODIES))
    if tnef is None or (empty and depth <= 1):
        # damaged, or a winmail.dat the applicant sent with neither files nor a body (the signature was there,
        # the rest is damage); an empty TNEF object nested inside one is an embedded message's remnant
        return Flag("unreadable", f"附件“{name}”（Outlook 专用格式）无法解析，"
                                  f"请在 Outlook 中改用 HTML 或纯文本格式重新发送。")
    if empty:
        return None
    if len(tnef.attachments) > budget.limits.max_members:
        return Flag("unreadable", f"附件“{name}”中的文件超过 {budget.limits.max_members} 个，已拒绝处理。")
    for index, attachment in enumerate(tnef.attachments, start=1):
        content = attachment.data if isinstance(attachment.data, bytes) else b""
        member = clean_member_path(_tnef_name(attachment, index)) or f"未命名文件{index}"
        if len(content) > budget.bytes_left:
            budget.flags.append(_bomb(name))
            break
        budget.bytes_left -= len(content)
        if not _add(f"{name}/{member}", content, budget, depth):
            break
    return None


def _expand_msg(name: str, data: bytes, budget: Budget, depth: int) -> Flag | None:
    from mailintake.mail.outlook import expand_msg

    def add(member: str, content: bytes) -> bool:
        return _add(f"{name}/{clean_member_path(member) or '未命名文件'}", content, budget, depth)

    return expand_msg(name, data, budget, add)


_EXPANDERS: dict[str, Callable[[str, bytes, Budget, int], Flag | None]] = {
    "zip": _expand_zip,
    "7z": _expand_7z,
    "rar": _expand_rar,
    "tnef": _expand_tnef,
    "msg": _expand_msg,
}


def _add(path: str, data: bytes, budget: Budget, depth: int, content_type: str = "application/octet-stream",
         fmt: str | None = None) -> bool:
    """Add one file, expanding it first if it is an archive. False when the mail's cap is reached.

    An archive that cannot be opened (damaged, encrypted, over a limit, nested too deep, empty) is kept
    as a file of the mail with the reason on it, so the office can download it and open it by hand."""
    fmt = fmt or detect_format(data)
    if fmt == "doc" and path.lower().endswith(".msg"):
        fmt = "msg"  # an OLE file olefile cannot open: the name says which container it was (as for .wps)
    if fmt in ARCHIVES and not is_junk_path(path):
        kept: Attachment | None = None
        if fmt == "msg":  # an Outlook item is a mail: kept on the record as it came, before its files
            kept = Attachment(path=path, data=data, content_type=content_type, format=fmt, container=True)
            if not budget.add_file(kept):
                return False
        if depth >= budget.limits.max_depth:
            failure: Flag | None = Flag("unreadable", f"压缩包“{path}”嵌套层数超过 {budget.limits.max_depth} 层，"
                                                      f"未再解压，请直接发送 Word 申报表。")
        else:
            files_before, flags_before = len(budget.files), len(budget.flags)
            failure = _EXPANDERS[fmt](path, data, budget, depth + 1)
            # a winmail.dat without files is Outlook's rich-text copy of the body, not an empty archive; an
            # Outlook item without files is a mail without attachments
            if failure is None and fmt not in ("tnef", "msg") and len(budget.files) == files_before \
                    and len(budget.flags) == flags_before:
                failure = Flag("unreadable", f"压缩包“{path}”中没有可读取的文件，请检查后重新发送。")
        if failure is None:
            return not budget.capped
        if kept is not None:
            kept.flags.append(failure)
            return not budget.capped
        return budget.add_file(Attachment(path=path, data=data, content_type=content_type, format=fmt,
                                          flags=[failure]))
    return budget.add_file(Attachment(path=path, data=data, content_type=content_type, format=fmt))


def add_candidate(path: str, data: bytes, budget: Budget, content_type: str = "application/octet-stream",
                  *, fmt: str | None = None) -> bool:
    """Add one attachment of a mail (expanding archives into their members). False once capped."""
    return _add(path, data, budget, 0, content_type, fmt)
