"""The demo's console: a free loopback port, a throwaway secret and a demo clerk account."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mailintake.web.server import RunningConsole

DEMO_LOGIN = "demo"
DEMO_WEB_PASSWORD = "demo-console"


def web_section() -> dict[str, str]:
    """The demo config's [web] section: a fresh secret and the free port the console will take."""
    from mailintake.demo.servers.base import free_port

    return {"secret_key": secrets.token_urlsafe(32), "base_url": f"http://127.0.0.1:{free_port()}"}


def start_demo_console(config_path: Path) -> RunningConsole:
    """Add the demo account (audited as the demo) and serve the console on the configured port."""
    from mailintake.config.settings import load_settings
    from mailintake.db.audit import Actor
    from mailintake.db.engine import open_database
    from mailintake.office.users import add_user, find_user
    from mailintake.web.app import create_app
    from mailintake.web.server import start_in_thread

    settings = load_settings(config_path, environ={})
    factory = open_database(settings.database.url, settings.base_dir)
    with factory() as session, session.begin():
        if find_user(session, DEMO_LOGIN) is None:
            add_user(session, Actor("demo", "CLI"), DEMO_LOGIN, "clerk", DEMO_WEB_PASSWORD)
    port = urlsplit(settings.web.base_url).port or 0
    return start_in_thread(create_app(settings, factory), "127.0.0.1", port)
