"""``mailintake applicant revoke ADDRESS``: end the link to an address's status page (a new one follows)."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.group("applicant")
def applicant_cmd() -> None:
    """The applicants' status pages ([web] applicant_url)."""


@applicant_cmd.command("revoke")
@click.argument("address")
@click.pass_context
def revoke_cmd(ctx: click.Context, address: str) -> None:
    """Revoke ADDRESS's status-page link at once; the next mail to ADDRESS carries a new one."""
    from mailintake.applicant.tokens import normalise, revoke
    from mailintake.db.audit import Actor, record_action
    from mailintake.errors import MailintakeError

    with user_errors():
        settings = load(ctx)
        if not settings.web.secret_key:
            raise MailintakeError("applicant: [web] secret_key is not set; the links are signed with it "
                                  "(set MAILINTAKE_WEB__SECRET_KEY as for the worker and the console)")
        key = normalise(address)
        with database(settings)() as session, session.begin():
            if not revoke(session, settings, key):
                raise MailintakeError(f"applicant: {key} has never been sent a status-page link; check the address "
                                      "(as it appears in `mailintake export`)")
            record_action(session, Actor.cli(), "applicant_link_revoked", detail=f"状态页链接已作废：{key}")
        click.echo(f"已作废 {key} 的状态页链接；下一封发往该邮箱的邮件将附新的链接。")
