"""``mailintake user add|list|passwd|disable``: the console's accounts (audited as the OS user)."""

from __future__ import annotations

import sys

import click

from mailintake.commands._common import database, load, user_errors


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password"))


@click.group("user")
def user_cmd() -> None:
    """Manage the console's accounts: a viewer reads, a clerk also acts."""


@user_cmd.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(["clerk", "viewer"]), required=True, help="clerk acts; viewer reads.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_context
def add_cmd(ctx: click.Context, login: str, role: str, password_stdin: bool) -> None:
    """Create an account (the password is prompted for twice unless --password-stdin)."""
    from mailintake.db.audit import Actor
    from mailintake.office.users import add_user

    with user_errors():
        settings = load(ctx)
        password = _read_password(password_stdin)
        with database(settings)() as session:
            add_user(session, Actor.cli(), login, role, password)
            session.commit()
        click.echo(f"added {login.strip()} ({role})")


@user_cmd.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """List the accounts, their roles and last logins."""
    from mailintake.office.users import list_users

    with user_errors():
        settings = load(ctx)
        tz = settings.campaign.tz
        with database(settings)() as session:
            users = list_users(session)
        if not users:
            click.echo("no accounts; add one with `mailintake user add LOGIN --role clerk`")
        for user in users:
            last = user.last_login_at.astimezone(tz).isoformat(timespec="minutes") if user.last_login_at else "never"
            state = "disabled" if user.disabled else "active"
            click.echo(f"{user.login}\t{user.role}\t{state}\tlast login {last}")


@user_cmd.command("passwd")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_context
def passwd_cmd(ctx: click.Context, login: str, password_stdin: bool) -> None:
    """Set a new password (and enable the account again)."""
    from mailintake.db.audit import Actor
    from mailintake.office.users import set_password

    with user_errors():
        settings = load(ctx)
        password = _read_password(password_stdin)
        with database(settings)() as session:
            set_password(session, Actor.cli(), login, password)
            session.commit()
        click.echo(f"password of {login.strip()} changed")


@user_cmd.command("disable")
@click.argument("login")
@click.pass_context
def disable_cmd(ctx: click.Context, login: str) -> None:
    """Disable an account: it can no longer log in, its sessions end at their next request."""
    from mailintake.db.audit import Actor
    from mailintake.office.users import disable_user

    with user_errors():
        settings = load(ctx)
        with database(settings)() as session:
            disable_user(session, Actor.cli(), login)
            session.commit()
        click.echo(f"disabled {login.strip()}")
