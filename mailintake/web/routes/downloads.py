"""Downloads by database id: attachments (original bytes), raw mails, report files.

Always ``Content-Disposition: attachment`` with the file name per RFC 6266/5987 (an ASCII fallback
plus ``filename*=UTF-8''…``) and ``application/octet-stream``: nothing a sender made renders inline.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.errors import StorageError
from mailintake.report.mail import attachment_name
from mailintake.web.page.context import console_of
from mailintake.web.page.render import not_found
from mailintake.web.queries.files import attachment_file, raw_mail_file, report_files

#: the daily report is our own escaped HTML with inline styles, and no script
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def content_disposition(name: str) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` (RFC 6266 §4.3, RFC 5987)."""
    clean = "".join(c for c in name if unicodedata.category(c)[0] != "C") or "download"
    fallback = "".join(c if c.isascii() and c not in '"\\;' else "_" for c in clean)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


def download(data: bytes, name: str, media_type: str = "application/octet-stream") -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": content_disposition(name)})


async def _stored(request: Request, rel: str) -> bytes | None:
    try:
        return await run_in_threadpool(console_of(request).storage.get, rel)
    except (StorageError, OSError):
        return None


async def attachment(request: Request) -> Response:
    found = await console_of(request).read(attachment_file, request.path_params["pk"])
    data = await _stored(request, found[0]) if found else None
    if found is None or data is None:
        return not_found(request, "没有这个附件，或其文件已不在存储目录中。")
    return download(data, found[1])


async def raw_mail(request: Request) -> Response:
    pk = request.path_params["pk"]
    rel = await console_of(request).read(raw_mail_file, pk)
    data = await _stored(request, rel) if rel else None
    if data is None:
        return not_found(request, "没有这封邮件的原始文件（过大的邮件不保存）。")
    return download(data, f"mail-{pk}.eml")


async def report_file(request: Request) -> Response:
    kind = request.path_params["kind"]
    report = await console_of(request).read(report_files, request.path_params["pk"])
    if report is None or kind not in ("html", "xlsx"):
        return not_found(request, "没有这份日报。")
    path = Path(report.html_path if kind == "html" else report.xlsx_path)
    try:
        data = await run_in_threadpool(path.read_bytes)
    except OSError:
        return not_found(request, "日报文件已不在报告目录中。")
    if kind == "html":
        return Response(data, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_CSP})
    return download(data, attachment_name(console_of(request).settings, report.for_date),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


ROUTES = [
    Route("/attachments/{pk:int}", attachment, methods=["GET"]),
    Route("/mails/{pk:int}/raw", raw_mail, methods=["GET"]),
    Route("/reports/{pk:int}/{kind:str}", report_file, methods=["GET"]),
]
