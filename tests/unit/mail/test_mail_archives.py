"""Archives in mail: zip (GBK names, nesting, bombs, traps), 7z, rar, winmail.dat."""

from __future__ import annotations

import io
import time
import zipfile
import zlib

import py7zr

from mailintake.config.settings import LimitsSettings
from mailintake.demo.samples.mails import (
    MessageBuilder,
    bomb_zip,
    minimal_docx,
    symlink_zip,
    tnef_archive,
    zip_archive,
)
from mailintake.mail.archives import ArchiveLimits, Budget, add_candidate, clean_member_path, zip_member_name
from mailintake.mail.reader import read_mail
from parsers.records import Flag
from tests.support.fixtures.rar import rar4, rar5

DOCX = minimal_docx()
#: other bytes: the same bytes twice in one mail are one file
DOCX2, DOCX3 = minimal_docx("表2.为民服务工作先进集体申报表"), minimal_docx("表3.窗口服务明星申报表")


def _bomb_flag(name: str) -> Flag:
    return Flag("unreadable",
                f"压缩包“{name}”中的文件超出解压限制（疑似压缩炸弹），已拒绝处理，请直接发送 Word 申报表。")


def _expand(name: str, data: bytes, limits: ArchiveLimits | None = None) -> tuple[list[tuple[str, str]], list[Flag]]:
    budget = Budget(limits or ArchiveLimits())
    add_candidate(name, data, budget)
    return [(a.path, a.format) for a in budget.files], [*budget.flags, *(f for a in budget.files for f in a.flags)]


def _seven_zip(members: dict[str, bytes], password: str | None = None) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", password=password) as archive:
        if password:
            archive.set_encrypted_header(True)
        for name, data in members.items():
            archive.writestr(data, name)
    return out.getvalue()


def _flip_encrypted_bit(data: bytes) -> bytes:
    """zipfile cannot write encrypted members: set the 'encrypted' flag bit in both headers."""
    buf = bytearray(data)
    buf[6] |= 0x01
    central = buf.rfind(b"PK\x01\x02")
    buf[central + 8] |= 0x01
    return bytes(buf)


def test_gbk_names_without_utf8_flag_decode_right() -> None:
    data = zip_archive({"申报材料/表1 镕喆.docx": DOCX})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[0]
    assert info.flag_bits & 0x800 == 0
    assert info.filename != "申报材料/表1 镕喆.docx"  # what zipfile alone makes of it
    assert zip_member_name(info) == "申报材料/表1 镕喆.docx"


def test_utf8_flagged_and_short_gbk_names() -> None:
    assert _expand("a.zip", zip_archive({"表一.docx": DOCX}, names="utf-8")) == ([("a.zip/表一.docx", "docx")], [])
    # 一 in GBK is D2 BB, which is valid UTF-8 as well (U+04BB)
    assert _expand("a.zip", zip_archive({"一.docx": DOCX})) == ([("a.zip/一.docx", "docx")], [])


def test_unicode_path_extra_field_wins() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("____.docx")
        name = "表2.docx".encode()
        body = b"\x01" + zlib.crc32(b"____.docx").to_bytes(4, "little") + name
        info.extra = (0x7075).to_bytes(2, "little") + len(body).to_bytes(2, "little") + body
        archive.writestr(info, DOCX)
    assert _expand("x.zip", out.getvalue()) == ([("x.zip/表2.docx", "docx")], [])


def test_traversal_absolute_and_drive_letter_names_become_display_paths() -> None:
    data = zip_archive([("../../etc/passwd", b"root"), ("/abs/表1.docx", DOCX), ("C:\\Users\\王\\表2.docx", DOCX2),
                        ("./a/./b/../c.txt", b"x")], names="gbk")
    assert _expand("m.zip", data) == ([
        ("m.zip/etc/passwd", "text"),
        ("m.zip/abs/表1.docx", "docx"),
        ("m.zip/Users/王/表2.docx", "docx"),
        ("m.zip/a/b/c.txt", "text"),
    ], [])
    assert clean_member_path("..\\..\\") == ""


def test_symlink_members_are_skipped_with_a_flag() -> None:
    files, flags = _expand("s.zip", symlink_zip("link.docx", "/etc/passwd", {"表1.docx": DOCX}))
    assert files == [("s.zip/表1.docx", "docx")]
    assert flags == [Flag("unsupported_format", "压缩包“s.zip”中的“link.docx”是符号链接，已忽略。")]


def test_encrypted_member_is_flagged() -> None:
    data = _flip_encrypted_bit(zip_archive({"表1.docx": DOCX}, compression=zipfile.ZIP_STORED))
    files, flags = _expand("e.zip", data)
    assert files == []
    assert flags == [Flag("unreadable", "压缩包“e.zip”中的“表1.docx”已加密，无法读取，请发送未加密的文件。")]


def test_nested_archives_expand_up_to_the_depth_limit() -> None:
    inner = zip_archive({"表3.docx": DOCX3})
    middle = zip_archive({"区县/内层.zip": inner, "表2.docx": DOCX2})
    outer = zip_archive({"中层.zip": middle})
    assert _expand("外层.zip", outer) == ([
        ("外层.zip/中层.zip/区县/内层.zip/表3.docx", "docx"),
        ("外层.zip/中层.zip/表2.docx", "docx"),
    ], [])
    files, flags = _expand("外层.zip", outer, ArchiveLimits(max_depth=2))
    assert files == [("外层.zip/中层.zip/区县/内层.zip", "zip"), ("外层.zip/中层.zip/表2.docx", "docx")]
    assert flags == [Flag("unreadable", "压缩包“外层.zip/中层.zip/区县/内层.zip”嵌套层数超过 2 层，"
                                        "未再解压，请直接发送 Word 申报表。")]


def test_zip_bomb_is_refused_before_inflating() -> None:
    bomb = bomb_zip(20 * 1024 * 1024)
    assert len(bomb) < 100_000
    start = time.perf_counter()
    files, flags = _expand("炸弹.zip", bomb)
    assert time.perf_counter() - start < 0.5
    assert files == [("炸弹.zip", "zip")]
    assert flags == [_bomb_flag("炸弹.zip")]


def test_total_size_limit_counts_across_archives() -> None:
    data = zip_archive({"a.txt": b"a" * 5000, "b.txt": b"b" * 5000}, compression=zipfile.ZIP_STORED)
    limits = ArchiveLimits(max_total_bytes=12_000)
    budget = Budget(limits)
    add_candidate("1.zip", data, budget)
    add_candidate("2.zip", data, budget)
    assert [a.path for a in budget.files] == ["1.zip/a.txt", "1.zip/b.txt", "2.zip"]
    assert budget.flags == [] and budget.files[2].flags == [_bomb_flag("2.zip")]


def test_too_many_members_is_refused() -> None:
    data = zip_archive({f"{i}.txt": b"x" for i in range(11)})
    assert _expand("多.zip", data, ArchiveLimits(max_members=10)) == ([("多.zip", "zip")], [
        Flag("unreadable", "压缩包“多.zip”中的文件超过 10 个，已拒绝处理，请直接发送 Word 申报表。")])


def test_damaged_and_empty_zips() -> None:
    damaged = zip_archive({"表1.docx": b"x" * 3000}, compression=zipfile.ZIP_STORED)
    truncated = damaged[: len(damaged) // 2]
    assert _expand("坏.zip", truncated) == ([("坏.zip", "zip")], [
        Flag("unreadable", "压缩包“坏.zip”已损坏，无法解压，请重新压缩后发送或直接发送 Word 申报表。")])
    corrupt = bytearray(zip_archive({"表1.txt": b"hello" * 1000}))
    corrupt[40:60] = b"\x00" * 20
    assert _expand("c.zip", bytes(corrupt)) == ([], [
        Flag("unreadable", "压缩包“c.zip”中的“表1.txt”已损坏，无法读取，请重新发送该文件。")])
    empty = zip_archive({})
    assert _expand("空.zip", empty) == ([("空.zip", "zip")], [Flag("unreadable",
                                                 "压缩包“空.zip”中没有可读取的文件，请检查后重新发送。")])


def test_seven_zip_members_are_read() -> None:
    data = _seven_zip({"申报/表1 镕.docx": DOCX, "申报/说明.txt": "说明".encode()})
    assert _expand("材料.7z", data) == ([("材料.7z/申报/表1 镕.docx", "docx"), ("材料.7z/申报/说明.txt", "text")], [])


def test_encrypted_seven_zip_is_flagged() -> None:
    data = _seven_zip({"表1.docx": DOCX}, password="secret")
    assert _expand("密.7z", data) == ([("密.7z", "7z")],
                                      [Flag("unreadable", "压缩包“密.7z”已加密，无法读取，请发送未加密的文件。")])


def test_rar4_and_rar5_members_with_gbk_names_are_read() -> None:
    """GIVEN a RAR 4 archive whose names are GBK bytes (WinRAR on Chinese Windows, no Unicode flag), with a
    folder in Windows style, and a RAR 5 archive (UTF-8 names) WHEN expanded THEN both read like zip."""
    old = rar4([("申报材料\\表1 镕喆.docx".encode("gbk"), DOCX), ("说明.txt".encode("gbk"), "说明".encode("gbk"))])
    new = rar5([("申报材料/表1 镕喆.docx", DOCX), ("说明.txt", "说明".encode())])
    assert _expand("材料.rar", old) == ([("材料.rar/申报材料/表1 镕喆.docx", "docx"),
                                        ("材料.rar/说明.txt", "text")], [])
    assert _expand("材料5.rar", new) == ([("材料5.rar/申报材料/表1 镕喆.docx", "docx"),
                                         ("材料5.rar/说明.txt", "text")], [])


def test_rar_limits_are_those_of_zip() -> None:
    many = rar5([(f"{i}.txt", b"x") for i in range(11)])
    assert _expand("多.rar", many, ArchiveLimits(max_members=10)) == ([("多.rar", "rar")], [
        Flag("unreadable", "压缩包“多.rar”中的文件超过 10 个，已拒绝处理，请直接发送 Word 申报表。")])
    big = rar4([(b"a.txt", b"a" * 5000)])
    assert _expand("大.rar", big, ArchiveLimits(max_member_bytes=4000)) == ([("大.rar", "rar")], [_bomb_flag("大.rar")])
    nested = rar5([("内层.rar", rar5([("表2.docx", DOCX)]))])
    assert _expand("外层.rar", nested) == ([("外层.rar/内层.rar/表2.docx", "docx")], [])
    assert _expand("外层.rar", nested, ArchiveLimits(max_depth=1)) == ([("外层.rar/内层.rar", "rar")], [Flag(
        "unreadable", "压缩包“外层.rar/内层.rar”嵌套层数超过 1 层，未再解压，请直接发送 Word 申报表。")])


def test_damaged_rar_is_kept_with_its_flag() -> None:
    good = rar5([("表1.docx", DOCX)])
    for damaged in (good[: len(good) // 2], good[:12] + b"\xff" * 8 + good[20:]):
        files, flags = _expand("坏.rar", damaged)
        assert files == [("坏.rar", "rar")]
        assert flags == [Flag("unreadable", "压缩包“坏.rar”已损坏，无法解压，请重新压缩后发送或直接发送 Word 申报表。")]


def test_winmail_dat_with_gbk_titles_is_unpacked() -> None:
    data = tnef_archive([("表1 镕.docx", DOCX), ("说明.txt", "说明".encode("gbk"))])
    assert _expand("winmail.dat", data) == ([("winmail.dat/表1 镕.docx", "docx"), ("winmail.dat/说明.txt", "text")], [])
    files, flags = _expand("winmail.dat", b"\x78\x9f\x3e\x22\x01")
    assert files == [("winmail.dat", "tnef")]
    assert flags == [Flag("unreadable", "附件“winmail.dat”（Outlook 专用格式）无法解析，"
                                        "请在 Outlook 中改用 HTML 或纯文本格式重新发送。")]


def test_archive_attachment_in_a_mail_end_to_end() -> None:
    raw = (MessageBuilder("outlook")
           .attach("winmail.dat", tnef_archive([("表2.docx", DOCX2)]), "application/ms-tnef")
           .attach("材料.7z", _seven_zip({"表3.docx": DOCX3}))
           .attach("炸弹.zip", bomb_zip(5 * 1024 * 1024))
           .build())
    mail = read_mail(raw, limits=ArchiveLimits(max_ratio=100))
    assert [(a.path, a.format) for a in mail.attachments] == [("winmail.dat/表2.docx", "docx"),
                                                              ("材料.7z/表3.docx", "docx"), ("炸弹.zip", "zip")]
    assert mail.flags == [] and mail.attachments[2].flags == [_bomb_flag("炸弹.zip")]


def test_limits_from_settings() -> None:
    limits = ArchiveLimits.from_settings(LimitsSettings(max_archive_members=7, max_archive_depth=2,
                                                        max_compression_ratio=50, max_uncompressed_bytes=1000,
                                                        max_attachment_bytes=500))
    assert limits == ArchiveLimits(max_members=7, max_depth=2, max_ratio=50, max_total_bytes=1000,
                                   max_member_bytes=500)
