"""File-level flag messages, written for the applicant (they go into correction mails)."""

from __future__ import annotations

from collections.abc import Sequence

from parsers.records import Flag

_ASK_DOCX = "请重新保存为 Word 文档（.docx）后发送。"

_KIND_NAMES = {
    "pdf": " PDF 文件",
    "png": "图片文件", "jpeg": "图片文件", "gif": "图片文件", "bmp": "图片文件", "tiff": "图片文件", "webp": "图片文件",
    "xlsx": " Excel 表格", "xls": " Excel 表格", "pptx": "演示文稿", "ppt": "演示文稿",
    "html": "网页文件", "text": "纯文本文件",
}
_LEGACY_NAMES = {"doc": " Word 97-2003 文档（.doc）", "wps": " WPS 文档（.wps）", "rtf": " RTF 文档（.rtf）",
                 "odt": " OpenDocument 文档（.odt）", "docm": "启用宏的 Word 文档（.docm）"}


def unreadable(name: str, reason: str = "文件已损坏或不完整") -> Flag:
    return Flag("unreadable", f"附件“{name}”无法读取（{reason}），{_ASK_DOCX}")


def encrypted(name: str) -> Flag:
    return Flag("unreadable", f"附件“{name}”设有密码保护，无法读取，请取消密码后重新保存为 Word 文档（.docx）发送。")


def unsupported(name: str, fmt: str) -> Flag:
    """A file that is not a Word document (PDF, image, spreadsheet, ...)."""
    kind = _KIND_NAMES.get(fmt)
    if fmt == "pdf" or kind == "图片文件":
        return Flag("unsupported_format",
                    f"附件“{name}”为{kind}，无法读取表格内容，请发送 Word 格式（.docx）的申报表；扫描件可另行附上。")
    what = f"为{kind}" if kind else "不是 Word 文档"
    return Flag("unsupported_format", f"附件“{name}”{what}，无法读取申报表内容，请发送 Word 格式（.docx）的申报表。")


def no_converter(name: str, fmt: str) -> Flag:
    """A legacy Word file while LibreOffice is not installed."""
    kind = _LEGACY_NAMES.get(fmt, "旧版文档")
    return Flag("unsupported_format", f"附件“{name}”为{kind}，暂无法读取，请另存为 Word 文档（.docx）后发送。")


def no_form(name: str, tables: Sequence[int] = (1, 2, 3, 4)) -> Flag:
    """No form in the file; ``tables``: the campaign's table numbers (表1至表4)."""
    numbers = sorted(tables)
    if not numbers:
        span = "申报表"
    elif len(numbers) == 1:
        span = f"表{numbers[0]}"
    else:
        span = f"表{numbers[0]}至表{numbers[-1]}"
    return Flag("no_form", f"附件“{name}”中未找到申报表（{span}），请使用通知附件1中的申报表填写后发送。")
