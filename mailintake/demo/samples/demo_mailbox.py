"""The demo's mailbox: every table, every rule, the awkward encodings, in arrival order.

Each :class:`SampleMail` carries the status the notice's rules give it; ``mailintake demo``, the console's
tests and the benchmarks append these to a local IMAP server.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable
from dataclasses import dataclass

from mailintake.demo.samples.forms import convert_with_soffice, filler, make_form_docx
from mailintake.demo.samples.mails import MessageBuilder, zip_archive

TZ_OFFSET = dt.timezone(dt.timedelta(hours=8))

#: add(key, description, builder, arrival time, expected status)
Add = Callable[[str, str, MessageBuilder, dt.datetime, str], None]


@dataclass(frozen=True)
class SampleMail:
    """One mail of the sample and what the notice's rules make of it."""

    key: str
    description: str
    raw: bytes
    internaldate: dt.datetime
    expected_status: str


def _at(day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2019, 12, day, hour, minute, 5, tzinfo=TZ_OFFSET)


def sample_mails(*, with_doc: bool = True) -> list[SampleMail]:
    """The demo's mailbox in arrival order; ``with_doc`` adds a legacy .doc (needs LibreOffice)."""
    samples: list[SampleMail] = []

    def add(key: str, description: str, builder: MessageBuilder, when: dt.datetime, status: str) -> None:
        raw = builder.date(email.utils.format_datetime(when)).build()
        samples.append(SampleMail(key, description, raw, when, status))

    _one_per_table(add)
    _defective_and_packed(add, with_doc=with_doc)
    _without_a_form_or_late(add)
    return samples


def _one_per_table(add: Add) -> None:
    """A well-formed form of each of 表1–表4, as four mail clients send them."""
    add("table1", "表1 from a district bureau (QQ Mail)",
        MessageBuilder("qq").sender("吴中区审批局 李静", "lijing_wz@qq.com")
        .subject("双争双创申报材料-改革创新标兵单位（吴中区行政审批局）")
        .text("王老师：\n您好！附件是我局《改革创新标兵单位申报表》，请查收。纸质材料已寄出。\n吴中区行政审批局 李静")
        .attach("表1 改革创新标兵单位申报表（吴中区）.docx", make_form_docx(1, {
            "unit": "苏州市吴中区行政审批局", "contact": "李静 0512-65251234"})),
        _at(16, 10, 12), "accepted")
    add("table2", "表2 from a service centre (Outlook, gb2312 label on GBK text)",
        MessageBuilder("outlook").sender("吴中区便民服务中心", "wzbmzx@szwz.gov.cn")
        .subject("【双争双创】为民服务工作先进集体申报表——吴中区便民服务中心")
        .text("王老师好，附件为我中心申报表，请审核。")
        .attach("表2 为民服务工作先进集体申报表.docx", make_form_docx(2, {"unit": "苏州市吴中区便民服务中心"})),
        _at(16, 15, 40), "accepted")
    add("table3", "表3 (窗口服务明星) from 163 Mail",
        MessageBuilder("163").sender("政务服务处", "zwfwc_sz@163.com")
        .subject("窗口服务明星申报表（王晓雯）")
        .text("附件：窗口服务明星申报表，请查收。")
        .attach("表3 窗口服务明星申报表-王晓雯.docx", make_form_docx(3, variant="sdt")),
        _at(17, 9, 3), "accepted")
    add("table4", "表4 (先进工作者) from Foxmail, Word track changes left on",
        MessageBuilder("foxmail").sender("昆山市行政审批局", "ksxzspj@ks.gov.cn")
        .subject("先进工作者申报表-陈志远（昆山）")
        .text("王老师：附件为先进工作者申报表，请查收，谢谢！")
        .attach("表4 先进工作者申报表（陈志远）.docx", make_form_docx(4, variant="tracked")),
        _at(17, 11, 26), "accepted")


def _defective_and_packed(add: Add, *, with_doc: bool) -> None:
    """Forms with a defect, forms in a zip with GBK names, and (with LibreOffice) a legacy .doc."""
    add("incomplete", "表2 with 主要事迹 left empty",
        MessageBuilder("qq").sender("常熟市便民服务中心", "csbmfw@qq.com")
        .subject("双争双创申报-为民服务工作先进集体")
        .text("您好，申报表见附件。")
        .attach("为民服务先进集体申报表.docx", make_form_docx(2, {"unit": "常熟市便民服务中心", "deeds": ""})),
        _at(17, 14, 50), "needs_correction")
    add("overlong", "表1 over the 1,000 字 limit",
        MessageBuilder("outlook").sender("张家港市行政审批局", "zjgspj@zjg.gov.cn")
        .subject("张家港市行政审批局 改革创新标兵单位申报")
        .text("王老师：申报表已按要求填写，请查收。")
        .attach("表1-张家港市行政审批局.docx", make_form_docx(1, {
            "unit": "张家港市行政审批局", "contact": "周敏 0512-58671234", "summary": filler(1260)})),
        _at(18, 9, 15), "needs_correction")
    archive = zip_archive({
        "双争双创申报材料/表3 窗口服务明星申报表（刘芳）.docx": make_form_docx(3, {
            "name": "刘芳", "unit_and_title": "苏州市公共资源交易中心 交易服务窗口", "deeds": filler(420),
            "recommender": "苏州市公共资源交易中心"}),
        "双争双创申报材料/表4 先进工作者申报表（赵磊）.docx": make_form_docx(4, {
            "name": "赵磊", "unit_and_title": "苏州市公共资源交易中心 综合科", "deeds": filler(380, start=5),
            "recommender": "苏州市公共资源交易中心"}),
    }, names="gbk")
    add("zip", "a zip from a forwarding centre, member names in GBK (表3 + 表4)",
        MessageBuilder("foxmail-old").sender("苏州市公共资源交易中心", "szggzy@szggzy.gov.cn")
        .subject("转发：交易中心双争双创申报材料")
        .text("王老师：\n交易中心两份申报材料打包发送，请查收。")
        .attach("双争双创申报材料.zip", archive, "application/zip"),
        _at(18, 10, 2), "accepted")
    if with_doc:
        doc = convert_with_soffice(make_form_docx(2, {"unit": "苏州市相城区行政审批局",
                                                      "deeds": filler(300, start=9)}), "doc")
        if doc is not None:
            add("doc", "表2 as a legacy Word 97-2003 .doc (read through LibreOffice)",
                MessageBuilder("163").sender("相城区行政审批局", "xcspj@163.com")
                .subject("为民服务工作先进集体申报表（相城区行政审批局）")
                .text("附件为申报表（doc格式），请查收。")
                .attach("表2 为民服务工作先进集体申报表.doc", doc, "application/msword"),
                _at(18, 11, 30), "accepted")


def _without_a_form_or_late(add: Add) -> None:
    """An auto-reply, a question, and a form after the deadline."""
    add("auto_reply", "an out-of-office auto-reply",
        MessageBuilder("qq").sender("太仓市行政审批局", "tcspj@qq.com").auto_reply()
        .subject("自动回复: 关于报送双争双创申报材料的通知")
        .text("您好，我已休假，12月20日返回，期间邮件将延迟回复。"),
        _at(18, 13, 45), "ignored")
    add("question", "a question without attachment",
        MessageBuilder("163").sender("盛泽镇行政审批局", "szzspj@163.com")
        .subject("请问表1可以申报几个项目？")
        .text("王老师您好：\n请问我镇审批局表1最多可以申报几个项目？纸质材料需要几份？谢谢！"),
        _at(18, 15, 20), "no_form")
    add("late", "表1 arriving at 19:05 on 18 December, after the deadline",
        MessageBuilder("qq").sender("太仓市行政审批局 吴倩", "tcspj_wq@qq.com")
        .subject("双争双创申报表（太仓市行政审批局）")
        .text("王老师，不好意思，申报表晚了一些，请查收。")
        .attach("表1 改革创新标兵单位申报表.docx", make_form_docx(1, {
            "unit": "太仓市行政审批局", "contact": "吴倩 0512-53571234"})),
        _at(18, 19, 5), "late")
