"""Header decoding and repair: RFC 2047 words, RFC 2231 parameters, raw 8-bit bytes."""

from __future__ import annotations

import base64
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from mailintake.mail.headers import (
    clean_text,
    decode_bytes,
    decode_header,
    decode_words,
    encode_words,
    normalize_charset,
    parse_params,
    recover_raw,
)

GBK_ONLY = "镕喆堃珺昇玥赟琍"
CHINESE = "关于双争双创申报材料表一二三四改革创新标兵单位为民服务先进集体苏州市行政审批局王琰，。“”（）《》、：；！？"
ALPHABET = CHINESE + GBK_ONLY + "abcXYZ 019_=?.-\"'"


def _b(text: str, charset: str, codec: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def _escaped(raw: bytes) -> str:
    """What the stdlib parser makes of 8-bit header bytes."""
    return raw.decode("ascii", "surrogateescape")


def test_gb2312_label_holding_gbk_only_characters_decodes_whole() -> None:
    """GIVEN an Outlook subject labelled gb2312 but holding GBK-only 镕/喆/堃/珺 WHEN decoded THEN nothing is lost."""
    assert decode_header(_b("朱镕基 张喆 王堃 李珺", "gb2312", "gbk")) == "朱镕基 张喆 王堃 李珺"


def test_every_gb_label_decodes_as_gb18030() -> None:
    for label in ("gb2312", "GB2312", "gbk", "GBK", "cp936", "x-gbk", "gb18030", "GB18030", "euc-cn"):
        assert normalize_charset(label) == "gb18030"
    assert normalize_charset("utf-8") == "utf-8"
    assert normalize_charset("UTF8") == "utf-8"
    assert normalize_charset("x-nonsense") == ""
    assert normalize_charset(None) == ""


def test_word_split_mid_character_is_joined_before_decoding() -> None:
    words = encode_words("申报表", "utf-8", "B", max_bytes=4)
    data = "申报表".encode()
    assert words == [f"=?utf-8?B?{base64.b64encode(data[i : i + 4]).decode()}?=" for i in (0, 4, 8)]
    assert decode_words(" ".join(words)) == "申报表"
    assert decode_words("\r\n\t".join(words)) == "申报表"


def test_words_in_gb_family_labels_join_across_labels() -> None:
    data = "镕基".encode("gbk")
    first = f"=?gb2312?B?{base64.b64encode(data[:1]).decode()}?="
    second = f"=?GBK?B?{base64.b64encode(data[1:]).decode()}?="
    assert decode_words(f"{first} {second}") == "镕基"


def test_text_around_words_and_words_inside_quotes() -> None:
    word = _b("张三", "utf-8", "utf-8")
    assert decode_words(f"Re: {word} 的申报") == "Re: 张三 的申报"
    assert decode_words(f'"{word}"') == '"张三"'
    assert decode_words(f"abc{word}def") == "abc张三def"


def test_q_encoding_with_underscores_and_lowercase_hex() -> None:
    assert decode_words("=?gbk?q?=b1=ed1_=c9=EA=B1=A8?=") == "表1 申报"


def test_base64_without_padding_and_with_junk() -> None:
    assert decode_words("=?utf-8?B?5byg5LiJ?=") == "张三"
    assert decode_words("=?utf-8?B?5byg5Li?=") == "张\ufffd"
    assert decode_words("=?utf-8?B?5by!g5LiJ?=") == "张三"


def test_unknown_charset_falls_back_to_utf8_then_gb18030() -> None:
    assert decode_words(_b("张三", "x-unknown", "utf-8")) == "张三"
    assert decode_words(_b("张三", "x-unknown", "gbk")) == "张三"
    assert decode_words(_b("张三", "utf-8", "gbk")) == "张三"


def test_raw_8bit_header_bytes_try_utf8_then_gb18030() -> None:
    assert recover_raw(_escaped("申报 表1".encode())) == "申报 表1"
    assert recover_raw(_escaped("申报 表1 镕".encode("gbk"))) == "申报 表1 镕"
    assert decode_header(_escaped("回复：申报".encode("gbk")) + " " + _b("表1", "utf-8", "utf-8")) == "回复：申报 表1"


def test_decode_bytes_never_raises() -> None:
    assert decode_bytes(b"\xff\xfe\xfd", "utf-8") == "\ufffd\ufffd\ufffd"
    assert decode_bytes("正文".encode("gbk"), "gb2312") == "正文"
    assert decode_bytes("镕".encode("gbk"), "gb2312") == "镕"
    assert decode_bytes(b"plain", "no-such-charset") == "plain"


def test_clean_text_removes_line_breaks_nul_and_controls() -> None:
    assert clean_text("申报\r\n 材料\x00\x07\r\nBcc: x@y.z") == "申报 材料 Bcc: x@y.z"
    assert clean_text("a\u2028b\tc") == "ab c"
    assert clean_text("x" * 50, limit=10) == "x" * 10


def test_decode_header_strips_crlf_injected_through_encoded_words() -> None:
    assert decode_header(_b("申报\r\nBcc: evil@example.com", "utf-8", "utf-8")) == "申报 Bcc: evil@example.com"


def test_rfc2231_continuation_splitting_a_utf8_character() -> None:
    """GIVEN mutt's filename*0*/filename*1* with 表 split across them THEN the filename comes out whole."""
    data = "表1 申报.docx".encode()
    first, second = urllib.parse.quote(data[:2]), urllib.parse.quote(data[2:])
    value = f"attachment;\r\n\tfilename*0*=utf-8''{first};\r\n\tfilename*1*={second}"
    assert parse_params(value) == ("attachment", {"filename": "表1 申报.docx"})


def test_rfc2231_gb2312_charset_holding_gbk_only_character() -> None:
    value = "attachment; filename*=gb2312'zh-cn'" + urllib.parse.quote("镕.doc".encode("gbk"))
    assert parse_params(value) == ("attachment", {"filename": "镕.doc"})


def test_rfc2231_mixed_plain_and_encoded_sections() -> None:
    value = "attachment; filename*0*=utf-8''%E8%A1%A8; filename*1=\"1 final.docx\""
    assert parse_params(value) == ("attachment", {"filename": "表1 final.docx"})


def test_rfc2047_inside_quoted_filename_and_raw_gbk_filename() -> None:
    value = 'attachment;\r\n\tfilename="' + _b("表1 镕.docx", "gb2312", "gbk") + '"'
    assert parse_params(value) == ("attachment", {"filename": "表1 镕.docx"})
    raw = 'attachment; filename="' + _escaped("表1 张三.docx".encode("gbk")) + '"'
    assert parse_params(raw) == ("attachment", {"filename": "表1 张三.docx"})


def test_quoted_values_keep_semicolons_and_gbk_trail_bytes() -> None:
    # 乗 in GBK is 81 5C: its trail byte is a backslash and must not be taken for an escape
    raw = "乗;表.doc".encode("gbk")
    assert parse_params('attachment; filename="' + _escaped(raw) + '"') == ("attachment", {"filename": "乗;表.doc"})
    assert parse_params('application/pdf; name="a\\"b.pdf"; x=1') == ("application/pdf", {"name": 'a"b.pdf', "x": "1"})


def test_parse_params_on_nothing_and_garbage() -> None:
    assert parse_params(None) == ("", {})
    assert parse_params(";;;=;") == ("", {})
    assert parse_params("attachment; filename*9999999999999999*=x") == ("attachment", {"filename": "x"})


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET, min_size=1, max_size=40),
    label_codec=st.sampled_from([("gb2312", "gbk"), ("GBK", "gbk"), ("gb18030", "gb18030"), ("cp936", "gbk"),
                                 ("utf-8", "utf-8"), ("UTF-8", "utf-8")]),
    encoding=st.sampled_from(["B", "Q"]),
    max_bytes=st.integers(min_value=1, max_value=30),
    separator=st.sampled_from([" ", "\r\n ", "\r\n\t", "  "]),
)
def test_round_trip_any_split_any_charset(text: str, label_codec: tuple[str, str], encoding: str, max_bytes: int,
                                          separator: str) -> None:
    """Arbitrary Chinese text, encoded in any GB or UTF-8 charset and split anywhere, decodes to itself."""
    label, codec = label_codec
    words = encode_words(text, label, encoding, max_bytes=max_bytes, codec=codec)
    assert decode_words(separator.join(words)) == text


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET.replace('"', "").replace("'", ""), min_size=1, max_size=30),
    split=st.integers(min_value=1, max_value=9),
)
def test_rfc2231_round_trip_any_split(text: str, split: int) -> None:
    data = (text + ".docx").encode()
    chunks = [data[i : i + split] for i in range(0, len(data), split)]
    sections = "".join(
        f";\r\n\tfilename*{i}*={'utf-8' + chr(39) * 2 if i == 0 else ''}{urllib.parse.quote(chunk)}"
        for i, chunk in enumerate(chunks)
    )
    assert parse_params("attachment" + sections) == ("attachment", {"filename": clean_text(text + ".docx")})


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=CHINESE + GBK_ONLY + "abc 1", min_size=1, max_size=40),
       codec=st.sampled_from(["utf-8", "gbk"]))
def test_raw_8bit_round_trip(text: str, codec: str) -> None:
    assert recover_raw(_escaped(text.encode(codec))) == text
