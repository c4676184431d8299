"""The blank 附件1 sent with the no-form reply and the 催报 to units that have not applied.

By default it is written from the campaign's form definitions (config/forms.toml): each table under
its title, one row per box with its label, “（可另附）” in the narrative boxes and a note naming the
字数 limit. The same definitions read it back, so a unit that fills it in is read without surprises.
When ``[campaign] blank_forms`` names the office's own Word file, that file is sent instead.

The bytes are deterministic — fixed document properties and fixed zip timestamps — so the attachment,
``mailintake forms --out DIR`` and every later run give the same file.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zipfile
from pathlib import Path

from mailintake.campaign.files import campaign_path, load_forms
from mailintake.config.settings import Settings
from mailintake.config.shipped import warn_once
from mailintake.errors import ConfigError
from parsers.definitions import FormSet

#: what every generated file says it was made at (the notice's date), so the bytes never change
FIXED_TIME = dt.datetime(2019, 12, 13, 0, 0, 0)
_SUBTYPES = {".docx": "vnd.openxmlformats-officedocument.wordprocessingml.document", ".doc": "msword",
             ".wps": "msword", ".pdf": "pdf", ".zip": "zip"}


def mime_subtype(name: str) -> str:
    """The ``application/…`` subtype of an attachment we send."""
    return _SUBTYPES.get(Path(name).suffix.lower(), "octet-stream")


def _fixed_zip(data: bytes) -> bytes:
    """The same package with every member's timestamp and attributes fixed (python-docx stamps the time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info))
    return out.getvalue()


def generate(forms: FormSet, *, campaign: str, office: str, max_chars: int) -> bytes:
    """附件1 with every table of ``forms``, empty, as .docx bytes."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "宋体"
    normal.font.size = Pt(12)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    core = doc.core_properties
    core.title = document_title(campaign)
    core.author = core.last_modified_by = office
    core.created = core.modified = core.last_printed = FIXED_TIME
    core.revision = 1
    core.comments = core.subject = core.keywords = core.category = ""
    doc.add_paragraph(document_title(campaign))
    doc.add_paragraph("填写说明：请只保留并填写拟申报的表格，未申报的表格请删除；每张表填写一个申报对象，"
                      "申报多个的请复制整张表格分别填写。填写后请将本 Word 文件作为邮件附件发送。")
    for index, form in enumerate(forms.tables):
        if index:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_paragraph(f"表{form.table}.{form.title}")
        table = doc.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for item in form.fields:
            row = table.add_row()
            row.cells[0].text = item.label
            row.cells[1].text = "（可另附）" if item.narrative else ""
        narrative = [f"“{item.label}”" for item in form.fields if item.narrative]
        counted = "、".join(narrative)
        limit = f"{counted}{'合计' if len(narrative) > 1 else ''}字数不超过{max_chars}字；" if narrative else ""
        doc.add_paragraph(f"注：填写要简明扼要，{limit}如填写不下，可单独附页。")
    buffer = io.BytesIO()
    doc.save(buffer)
    return _fixed_zip(buffer.getvalue())


@functools.lru_cache(maxsize=4)
def _generated(forms_path: str, mtime: float, campaign: str, office: str, max_chars: int) -> bytes:
    """Generated once per campaign file version (``mtime`` in the key) and wording."""
    return generate(load_forms(forms_path), campaign=campaign, office=office, max_chars=max_chars)


def document_title(campaign: str) -> str:
    """``附件1.“双争双创”活动先进荣誉申报表`` from the campaign's name (which may end in 申报 already)."""
    name = campaign.strip()
    return f"附件1.{name}{'表' if name.endswith('申报') else '' if name.endswith('申报表') else '申报表'}"


def file_name(settings: Settings) -> str:
    return f"{document_title(settings.campaign.name)}.docx"


def office_file(settings: Settings) -> Path | None:
    """The office's own blank form (``[campaign] blank_forms``), or None; ConfigError when it is missing."""
    configured = settings.campaign.blank_forms.strip()
    if not configured:
        return None
    path = settings.path(configured)
    if not path.is_file():
        raise ConfigError(f"config: [campaign] blank_forms {path} does not exist; put the office's blank 附件1 "
                          "(.docx) there or remove the key to send the generated one")
    return path


def blank_forms(settings: Settings) -> tuple[str, bytes]:
    """(file name, bytes) of the blank 附件1: the office's own file, else the generated one."""
    path = office_file(settings)
    if path is not None:
        return path.name, path.read_bytes()
    forms = campaign_path(settings, "forms")
    campaign = settings.campaign
    data = _generated(str(forms), forms.stat().st_mtime, campaign.name, campaign.office_name, campaign.max_chars)
    return file_name(settings), data


def blank_forms_for(settings: Settings) -> tuple[tuple[str, bytes], ...]:
    """The attachments of a mail that offers the blank forms; none (and a warning) when they cannot be made,
    so the applicant is still answered."""
    try:
        return (blank_forms(settings),)
    except (ConfigError, OSError, ValueError) as exc:
        warn_once(f"{exc}; the mail is sent without the blank forms")
        return ()
