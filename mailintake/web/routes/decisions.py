"""Office decisions on a submission (同意受理 / 撤回, with a reason, optionally 通知申报单位)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.campaign.decisions import DECISION_LABELS
from mailintake.db.models import Message, Submission
from mailintake.office.decisions import DecisionError, decide
from mailintake.web.page.context import console_of
from mailintake.web.page.render import page
from mailintake.web.page.security import action, flash, safe_next
from mailintake.web.routes.auth import actor_of

REASON_LIMIT = 500


@action()
async def record_decision(request: Request, form: FormData) -> Response:
    submission_id = request.path_params["pk"]
    back = RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)
    kind = str(form.get("kind", ""))
    reason = " ".join(str(form.get("reason", "")).split())
    if kind not in DECISION_LABELS:
        flash(request, "请选择“同意受理”或“撤回”。", "error")
        return back
    if not reason:
        flash(request, "未记录决定：请填写理由后再提交。", "error")
        return back
    if len(reason) > REASON_LIMIT:
        flash(request, f"未记录决定：理由不超过 {REASON_LIMIT} 字，请精简后再提交。", "error")
        return back
    console = console_of(request)
    if kind == "withdraw" and form.get("confirmed") != "1":
        return await _confirm_withdrawal(request, submission_id, reason, form.get("notify") == "1",
                                         safe_next(str(form.get("next", ""))))
    try:
        result = await console.act(decide, console.settings, submission_id, kind, reason, actor_of(request),
                                   notify=form.get("notify") == "1", now=console.now())
    except DecisionError:
        flash(request, f"未记录决定：申报表记录 {submission_id} 不存在或已被后来的申报替代，"
                       "请在当前有效的申报表上操作。", "error")
        return back
    facts = await console.read(_form_facts, submission_id)
    named = f"{result.unit} 表{facts[2]}（回执编号 {facts[1]}）" if facts and facts[1] else f"{result.unit} 的申报表"
    text = f"已记录决定：{named}{result.decision.label}。"
    if result.notice_id is not None:
        text += "通知邮件已放入发件队列。"
    flash(request, text)
    if result.notice_problem:
        flash(request, "未能通知申报单位：发件人地址无法使用，请电话告知。", "error")
    return back


def _form_facts(session: Session, submission_id: int) -> tuple[str, str, int] | None:
    row = session.execute(select(Submission.unit, Message.receipt_no, Submission.table_no)
                          .join(Message, Message.id == Submission.message_pk)
                          .where(Submission.id == submission_id)).first()
    return (row.unit or "", row.receipt_no or "", row.table_no) if row else None


async def _confirm_withdrawal(request: Request, submission_id: int, reason: str, notify: bool,
                              back: str) -> Response:
    """撤回 step one: what will be withdrawn (nothing is recorded yet)."""
    facts = await console_of(request).read(_form_facts, submission_id)
    if facts is None:
        flash(request, f"未记录决定：申报表记录 {submission_id} 不存在。", "error")
        return RedirectResponse(back, status_code=303)
    unit, receipt, table = facts
    text = (f"将撤回{unit}的表{table}申报表（回执编号 {receipt or '无'}），该申报表不再列入候选名单。"
            f"理由：{reason}。" + ("将通知申报单位。" if notify else "不通知申报单位。"))
    fields = [("kind", "withdraw"), ("reason", reason), ("next", back)] + ([("notify", "1")] if notify else [])
    return page(request, "confirm.html", {"title": "确认撤回", "text": text, "items": [], "button": "确认撤回",
                                          "action": f"/submissions/{submission_id}/decision", "back": back,
                                          "fields": fields})


ROUTES = [Route("/submissions/{pk:int}/decision", record_decision, methods=["POST"])]
