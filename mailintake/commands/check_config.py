"""``mailintake check-config``: validate the configuration and try the servers, one line per check."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable

import click

from mailintake.commands._common import load
from mailintake.config.settings import Settings, SmtpSettings
from mailintake.errors import ConfigError, MailintakeError, SmtpError


def _smtp_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_smtp(settings: SmtpSettings) -> str:
    """Connect, EHLO, TLS as configured, log in when a username is set. Raises SmtpError (one line)."""
    target = f"{settings.host}:{settings.effective_port}"
    timeout = min(settings.timeout, 20.0)
    client: smtplib.SMTP | None = None
    try:
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.effective_port, timeout=timeout,
                                      context=_smtp_context(settings))
        else:
            client = smtplib.SMTP(settings.host, settings.effective_port, timeout=timeout)
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise SmtpError(f'SMTP server {target} does not offer STARTTLS: set [smtp] security = "ssl" (465)')
            client.starttls(context=_smtp_context(settings))
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password)
            detail = f"logged in as {settings.username}"
        else:
            detail = "no login configured"
        return f"{target}, {detail}"
    except smtplib.SMTPAuthenticationError as exc:
        hint = " (QQ Mail needs the 授权码, not the QQ password)" if settings.host.endswith("qq.com") else ""
        raise SmtpError(
            f"SMTP login to {target} failed ({exc.smtp_code}); check [smtp] username/password{hint}"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise SmtpError(f"TLS certificate verification failed for {target} ({exc.verify_message}); "
                        "check [smtp] host or set [smtp] ca_file") from None
    except ssl.SSLError as exc:
        raise SmtpError(f"TLS handshake with {target} failed ({exc.reason}); check [smtp] security and port "
                        '(security = "ssl" uses 465, "starttls" 587)') from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = "host name not found" if isinstance(exc, socket.gaierror) else (
            "timed out" if isinstance(exc, TimeoutError) else (getattr(exc, "strerror", None) or str(exc) or
                                                                type(exc).__name__))
        raise SmtpError(f"cannot talk to SMTP server {target} ({reason}); check [smtp] host/port and the network") \
            from None
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def check_imap(settings: Settings) -> str:
    from mailintake.mailbox.client import MailboxClient

    with MailboxClient(settings.mailbox) as box:
        state = box.select()
        idle = "IDLE supported" if box.has_capability("IDLE") else "no IDLE"
    return (f"{settings.mailbox.host}:{settings.mailbox.effective_port} as {settings.mailbox.username}, "
            f"folder {state.name}: {state.exists} mails, {idle}")


def check_database(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    from mailintake.db.engine import open_database, resolve_url

    open_database(settings.database.url, settings.base_dir)
    return make_url(resolve_url(settings.database.url, settings.base_dir)).render_as_string(hide_password=True)


def check_report_template(settings: Settings) -> None:
    from jinja2 import TemplateError

    from mailintake.campaign.sources import REPORT_TEMPLATE, template_dir
    from mailintake.report.html import environment

    directory = template_dir(settings)
    try:
        environment(directory).get_template(REPORT_TEMPLATE)
    except TemplateError as exc:
        raise ConfigError(f"config: [campaign] templates: {REPORT_TEMPLATE} in {directory} does not compile "
                          f"({exc}); fix it") from None


def check_campaign(settings: Settings) -> str:
    """Forms, roster, quotas and templates load; ConfigError (one line naming the key) otherwise."""
    from mailintake.campaign.files import campaign_path, load_forms
    from mailintake.campaign.rules import campaign_rules
    from mailintake.campaign.sources import campaign_quotas, campaign_roster
    from mailintake.config.shipped import shipped
    from mailintake.outbox.templates import check_templates

    forms_path = campaign_path(settings, "forms")
    try:
        forms = load_forms(forms_path)
    except Exception as exc:  # DefinitionError, TOML syntax, unreadable: all one line
        raise ConfigError(f"config: [campaign] forms {forms_path} is broken ({exc}); fix the file") from None
    campaign_rules(settings)  # the per-table rules of the same file: one line naming the problem
    roster = campaign_roster(settings)
    quotas = campaign_quotas(settings)
    names = sorted(p.name for p in shipped("templates").iterdir() if p.name.startswith("reply_"))
    problems = check_templates(settings, names)
    broken = [p for p in problems if "does not compile" in p]
    if broken:
        raise ConfigError(f"config: [campaign] {broken[0]}")
    check_report_template(settings)
    from mailintake.applicant.blank_forms import office_file

    office_file(settings)  # a blank 附件1 the office named must exist (one line naming the key)
    missing = f", {len(problems)} templates missing (shipped copies used)" if problems else ""
    return (f"forms {len(forms.tables)} tables, roster {len(roster.units)} units, "
            f"quotas {len(quotas.honours)} honours, templates OK{missing}")


def check_storage(settings: Settings) -> str:
    from mailintake.commands.run import check_storage as writable

    writable(settings)
    return str(settings.path(settings.storage.dir))


@click.command("check-config", help=(
    "Validate the configuration, open the database, and connect to IMAP (login + select) and SMTP "
    "(EHLO + login). One OK/FAIL line per check; the exit code is that of the first failure "
    "(2 config, 3 IMAP, 4 SMTP, 5 database, 6 storage)."))
@click.option("--no-network", is_flag=True, help="Skip the IMAP and SMTP connections.")
@click.pass_context
def check_config_cmd(ctx: click.Context, no_network: bool) -> None:
    from mailintake.config.settings import resolve_config_path, world_readable_secret
    from mailintake.util.logging_setup import register_settings_secrets, setup_logging, verbosity_of

    setup_logging(2 if verbosity_of(ctx) >= 2 else 0)
    try:
        settings = load(ctx, warn_permissions=False)  # its own WARN line below
    except ConfigError as err:
        click.echo(f"FAIL config    {err}", err=True)
        ctx.exit(err.exit_code)
    register_settings_secrets(settings)
    path = resolve_config_path((ctx.find_root().obj or {}).get("config_path"))
    click.echo(f"OK   config    {path}")
    if path is not None and world_readable_secret(path):
        click.echo(f"WARN config    {path} holds a password and every user can read it; chmod 600 it "
                   "or move the password to MAILINTAKE_MAILBOX__PASSWORD / MAILINTAKE_SMTP__PASSWORD")
    checks: list[tuple[str, Callable[[Settings], str]]] = [
        ("campaign", check_campaign), ("database", check_database), ("storage", check_storage)]
    if not no_network:
        checks += [("imap", check_imap), ("smtp", lambda s: check_smtp(s.smtp))]
    exit_code = 0
    for name, check in checks:
        try:
            detail = check(settings)
        except MailintakeError as err:
            click.echo(f"FAIL {name:<9} {err}")
            exit_code = exit_code or err.exit_code
        else:
            click.echo(f"OK   {name:<9} {detail}")
    ctx.exit(exit_code)
