"""``mailintake decide SUBMISSION_ID --accept|--withdraw --reason TEXT [--notify]``: the office's decision."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("decide")
@click.argument("submission_id", type=int)
@click.option("--accept", "kind", flag_value="accept", help="同意受理: accept the submission despite its flags.")
@click.option("--withdraw", "kind", flag_value="withdraw", help="撤回: the unit withdrew the submission.")
@click.option("--reason", required=True, help="Why (kept with the decision and in the audit trail).")
@click.option("--notify", is_flag=True, help="Also mail the decision to the applicant (通知申报单位).")
@click.pass_context
def decide_cmd(ctx: click.Context, submission_id: int, kind: str | None, reason: str, notify: bool) -> None:
    """Record the office's decision on a submission (the record and its flags stay)."""
    if kind is None:
        raise click.UsageError("add --accept (同意受理) or --withdraw (撤回)")
    from mailintake.db.audit import Actor
    from mailintake.office.decisions import decide

    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        with factory() as session:
            result = decide(session, settings, submission_id, kind, reason, Actor.cli(), notify=notify)
            session.commit()
        click.echo(f"已记录：记录 {result.submission_id}（{result.unit or '未填写单位'}）{result.decision.label}："
                   f"{result.decision.reason}")
        if result.notice_id is not None:
            click.echo(f"已排队通知申报单位（outbox {result.notice_id}），由 worker 或 mailintake send 发送")
        elif notify:
            click.echo(f"未通知申报单位：{result.notice_problem}", err=True)
