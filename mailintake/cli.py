"""Command-line entry point.

Commands live in ``mailintake.commands.<name>`` and are imported only when invoked, so
``mailintake --help`` and the light commands start without loading the intake or the report stack.
"""

from __future__ import annotations

import importlib
import sys

import click

#: command name -> (module under mailintake.commands, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "parse": ("parse", "parse_cmd", "Parse application forms from Word files and print the records."),
    "demo": ("demo", "demo_cmd", "Run the whole job against local servers with sample mail."),
    "poll": ("poll", "poll_cmd", "Run one intake cycle: fetch, parse, apply the rules, store, reply."),
    "export": ("export", "export_cmd", "Export mails, submissions and replies as JSON, CSV or Excel."),
    "report": ("report", "report_cmd", "Write (and optionally send) the daily intake report."),
    "paper": ("paper", "paper_cmd", "Record that a unit's stamped paper copies have arrived."),
    "decide": ("decide", "decide_cmd", "Record the office's decision on a submission (accept or withdraw)."),
    "audit": ("audit", "audit_cmd", "Show the audit trail of office actions."),
    "remind": ("remind", "remind_cmd", "Preview or queue the reminders (催报) due now."),
    "handoff": ("handoff", "handoff_cmd", "Write the 公示名单, 民主测评票 and the candidates' original files."),
    "run": ("run", "run_cmd", "Run the worker: poll, deliver replies and send the daily report."),
    "status": ("status", "status_cmd", "Show the last poll, last report, counts by status and replies."),
    "check-config": ("check_config", "check_config_cmd", "Validate the configuration and test IMAP/SMTP."),
    "resend": ("resend", "resend_cmd", "Queue the reply of a receipt number again."),
    "reprocess": ("reprocess", "reprocess_cmd", "Re-parse a stored mail after a parser fix."),
    "send": ("send", "send_cmd", "Deliver the replies that are due."),
    "db-upgrade": ("db", "db_upgrade_cmd", "Create or upgrade the database schema."),
    "web": ("web", "web_cmd", "Serve the office's web console."),
    "user": ("user", "user_cmd", "Manage the console's accounts (add, list, passwd, disable)."),
    "applicant": ("applicant", "applicant_cmd", "Revoke an applicant's status-page link."),
    "forms": ("forms", "forms_cmd", "Write the blank application forms (附件1) sent to units without a form."),
}


class LazyGroup(click.Group):
    """A click group that imports each command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        module = importlib.import_module(f"mailintake.commands.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailintake")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: $MAILINTAKE_CONFIG, else config/mailintake.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool, quiet: bool) -> None:
    """mailintake — the service behind a call for applications by email."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["verbosity"] = 2 if verbose else (0 if quiet else 1)


def main() -> None:
    try:
        cli(prog_name="mailintake")
    except KeyboardInterrupt:
        sys.exit(130)
