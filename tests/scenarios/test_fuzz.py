"""Property-based tests (hypothesis) and a bounded fuzz target over MIME and .docx parsing.

* the 字数 counter: additivity over spaces, one per CJK character, never more than the length;
* field extraction: random Chinese text typed into a generated 表2 comes back equal after the
  documented cleaning (lines trimmed, empty lines dropped), and its 字数 is the counter's;
* fuzz: byte flips, truncations, insertions and zip-member corruption of a valid mail and a valid
  .docx are fed to ``read_mail`` and ``parse_document``; no exception may escape and the results
  must be well-formed. Bounded by ``max_examples`` so the file runs in well under a minute.
"""

from __future__ import annotations

import io
import re
import zipfile
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailintake.demo.samples.forms import make_form_docx
from mailintake.demo.samples.mails import MessageBuilder
from mailintake.mail.reader import read_mail
from parsers import FileResult, FormSet, Limits, count_chars, load_definitions, parse_document

#: every flag code a file or a mail can carry after reading and parsing
KNOWN_CODES = {"incomplete", "overlong", "unreadable", "unsupported_format", "no_form", "macro_ignored"}
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: common characters that spell no form label, table title, placeholder or date
HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发动同工也能下过子说产种面"
    "而方后多定行学法所民得经之进着等部度家电力里如水化高自理起小物现实加量都两体制机当使点从业本去把性好"
    "应开它合还因由其些然前外天政那社义平形相全间样与关各重新线内数正心反你明看原又么利比或但质气第向道命"
    "此变条只没结解问意建公无系军很情者最立代想已通并提直题党程展果料象员革入常文总次品式活设及管特件长求"
    "老头基资边流路级少图山统接知较将组见计别她手角期根论运农指区强放决西被干做必战先回则任取据处府研车"
)
PUNCT = "，。；、！？“”（）《》"


def han_text(min_size: int = 1, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(alphabet=HAN + PUNCT, min_size=min_size, max_size=max_size)


# ------------------------------------------------------------------------------------ 字数 counter


@given(st.text(alphabet=HAN, max_size=200))
def test_each_chinese_character_counts_one(text: str) -> None:
    assert count_chars(text) == len(text)


@given(st.text(max_size=300), st.text(max_size=300))
def test_count_is_additive_across_a_space(left: str, right: str) -> None:
    assert count_chars(left + " " + right) == count_chars(left) + count_chars(right)
    assert count_chars(left + "\n\u3000\t" + right) == count_chars(left) + count_chars(right)


@given(st.text(max_size=300), st.text(max_size=300))
def test_joining_merges_at_most_one_run(left: str, right: str) -> None:
    joined = count_chars(left + right)
    assert count_chars(left) + count_chars(right) - 1 <= joined <= count_chars(left) + count_chars(right)


@given(st.text(max_size=500))
def test_count_is_bounded_by_length_and_ignores_spacing(text: str) -> None:
    assert 0 <= count_chars(text) <= len(text)
    assert count_chars(re.sub(r"\s+", "  ", text)) == count_chars(text)
    assert count_chars(" ".join(text.split())) == count_chars(text)


@given(st.lists(st.from_regex(r"[A-Za-z0-9.%-]{1,12}", fullmatch=True), max_size=30))
def test_each_latin_word_or_number_counts_one(words: list[str]) -> None:
    assert count_chars(" ".join(words)) == len(words)


# ------------------------------------------------------------------------------- field extraction


def cleaned(lines: list[str]) -> str:
    return "\n".join(line.strip() for line in lines if line.strip())


@cache
def _definitions() -> FormSet:
    return load_definitions()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    unit=han_text(2, 30),
    deeds=st.lists(st.tuples(st.sampled_from(["", " ", "\u3000", "  "]), han_text(1, 60),
                             st.sampled_from(["", " ", "\t"])), min_size=1, max_size=5),
)
def test_random_chinese_text_comes_back_from_a_generated_form(unit: str, deeds: list[tuple[str, str, str]]) -> None:
    """GIVEN random Chinese text typed into 表2 (lines with stray spaces) THEN it is read back as typed,
    trimmed line by line, and its 字数 is the counter's."""
    lines = ["".join(parts) for parts in deeds]
    docx = make_form_docx(2, {"unit": unit, "deeds": "\n".join(lines)})
    result = parse_document(docx, "表2.docx", definitions=_definitions(), soffice=None)
    assert [f.code for f in result.flags] == []
    assert len(result.forms) == 1
    form = result.forms[0]
    assert form.table == 2
    assert form.fields["unit"] == unit.strip()
    assert form.fields["deeds"] == cleaned(lines)
    assert form.word_count == count_chars(cleaned(lines))


# -------------------------------------------------------------------------------------------- fuzz


@cache
def valid_docx() -> bytes:
    return make_form_docx(2, {"unit": "苏州工业园区行政审批局", "deeds": "推行“一件事一窗办”，办理时限压缩50%。"})


@cache
def valid_mail() -> bytes:
    return (MessageBuilder("qq").sender("园区审批局", "yq@sipac.gov.cn").subject("双争双创申报材料（表2）")
            .text("王老师：附件是申报表。").attach("表2 为民服务工作先进集体申报表.docx", valid_docx()).build())


def flip(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in changes:
        out[position % len(out)] = value
    return bytes(out)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1,
                                        max_size=40)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 30)),
    st.tuples(st.just("insert"), st.tuples(st.integers(0, 1 << 30), st.binary(min_size=1, max_size=200))),
)


def mutate(data: bytes, how: tuple[str, Any]) -> bytes:
    kind, arg = how
    if kind == "flip":
        return flip(data, arg)
    if kind == "truncate":
        return data[: int(arg) % (len(data) + 1)]
    position, blob = arg
    at = int(position) % (len(data) + 1)
    return data[:at] + bytes(blob) + data[at:]


def well_formed_mail(raw: bytes) -> None:
    mail = read_mail(raw, own_addresses={"office@example.gov.cn"})
    assert re.fullmatch(r"<[^<>\s]+>", mail.message_id)
    for text in (mail.subject, mail.from_name, mail.from_addr):
        assert isinstance(text, str) and "\r" not in text and "\n" not in text and "\x00" not in text
    assert len(mail.subject) <= 1000
    for attachment in mail.attachments:
        assert isinstance(attachment.data, bytes) and attachment.path and "\n" not in attachment.path
        assert not attachment.path.startswith("/") and ".." not in attachment.path.split("/")
    for flag in mail.flags:
        assert flag.code in KNOWN_CODES and flag.message


def well_formed_result(result: FileResult) -> None:
    assert isinstance(result.format, str) and result.format
    for flag in result.flags:
        assert flag.code in KNOWN_CODES and flag.message and "\n" not in flag.message
    for form in result.forms:
        assert form.table in (1, 2, 3, 4)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in form.fields.items())
        assert form.word_count >= 0
    assert result.forms or result.flags


@FUZZ
@given(mutation)
def test_fuzz_mime(how: tuple[str, object]) -> None:
    well_formed_mail(mutate(valid_mail(), how))


@FUZZ
@given(mutation)
def test_fuzz_docx_bytes(how: tuple[str, object]) -> None:
    result = parse_document(mutate(valid_docx(), how), "表2.docx", definitions=_definitions(), soffice=None,
                            limits=Limits())
    well_formed_result(result)


def members(docx: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return archive.namelist()


@FUZZ
@given(member=st.integers(0, 100), how=mutation, drop=st.booleans())
def test_fuzz_docx_members(member: int, how: tuple[str, object], drop: bool) -> None:
    """Corrupt (or remove) one member of a valid .docx, keeping the zip itself intact."""
    source = valid_docx()
    names = members(source)
    target = names[member % len(names)]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for name in names:
            if name == target:
                if drop:
                    continue
                copy.writestr(name, mutate(archive.read(name), how))
            else:
                copy.writestr(name, archive.read(name))
    result = parse_document(out.getvalue(), "表2.docx", definitions=_definitions(), soffice=None)
    well_formed_result(result)


@FUZZ
@given(how=mutation)
def test_fuzz_docx_inside_mail(how: tuple[str, object]) -> None:
    """A damaged attachment inside an intact mail: the mail reads, the file becomes a flag or a form."""
    docx = mutate(valid_docx(), how)
    raw = MessageBuilder("foxmail").attach("表2.docx", docx).build()
    mail = read_mail(raw)
    well_formed_mail(raw)
    assert [a.data for a in mail.attachments] in ([docx], []) or len(mail.attachments) >= 1
    for attachment in mail.attachments:
        well_formed_result(parse_document(attachment.data, attachment.path, definitions=_definitions(),
                                          soffice=None))
