"""Office decisions on a submission (同意受理 / 撤回, with a reason, optionally 通知申报单位)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.campaign.decisions import DECISION_LABELS
from mailintake.office.decisions import DecisionError, decide
from mailintake.web.page.context import console_of
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
    try:
        result = await console.act(decide, console.settings, submission_id, kind, reason, actor_of(request),
                                   notify=form.get("notify") == "1", now=console.now())
    except DecisionError:
        flash(request, f"未记录决定：申报表记录 {submission_id} 不存在或已被后来的申报替代，"
                       "请在当前有效的申报表上操作。", "error")
        return back
    text = f"已记录决定：申报表记录 {submission_id}（{result.unit}）{result.decision.label}。"
    if result.notice_id is not None:
        text += "通知邮件已放入发件队列。"
    flash(request, text)
    if result.notice_problem:
        flash(request, "未能通知申报单位：发件人地址无法使用，请电话告知。", "error")
    return back


ROUTES = [Route("/submissions/{pk:int}/decision", record_decision, methods=["POST"])]
