"""``mailintake web [--host H] [--port P]``: serve the office's console (needs [web] secret_key)."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("web")
@click.option("--host", default=None, help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: [web] port, 8080).")
@click.pass_context
def web_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the office's web console beside the worker, on the same database."""
    from mailintake.util.logging_setup import register_settings_secrets, setup_logging, verbosity_of
    from mailintake.web.app import create_app, require_secret
    from mailintake.web.server import serve

    with user_errors():
        settings = load(ctx)
        require_secret(settings)
        setup_logging(verbosity_of(ctx))
        register_settings_secrets(settings)
        app = create_app(settings, database(settings))
        host = host or settings.web.host
        port = port or settings.web.port
        click.echo(f"console on http://{host}:{port} (Ctrl-C stops it)", err=True)
    serve(app, host, port)
