"""Assemble the console: routes of every area, sessions, login, security headers, static files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from mailintake.campaign.sources import load_sources
from mailintake.config.settings import Settings
from mailintake.db.storage import Storage
from mailintake.errors import ConfigError
from mailintake.web.page.context import Console, template_environment
from mailintake.web.page.security import AuthMiddleware, SecurityHeaders
from mailintake.web.routes import all_routes, navigation
from mailintake.web.routes.applicant import install_log_filter

STATIC = Path(__file__).parent / "static"
COOKIE = "mailintake_session"
MIN_SECRET = 16


def require_secret(settings: Settings) -> str:
    key = settings.web.secret_key
    if not key:
        raise ConfigError("config: [web] secret_key is not set; set MAILINTAKE_WEB__SECRET_KEY to a long random "
                          "string (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if len(key) < MIN_SECRET:
        raise ConfigError(f"config: [web] secret_key is shorter than {MIN_SECRET} characters; "
                          "set MAILINTAKE_WEB__SECRET_KEY to a long random string")
    return key


def create_app(settings: Settings, session_factory: sessionmaker[Session] | None = None) -> Starlette:
    """The console for ``settings``; opens (and migrates) the database unless a factory is given."""
    secret = require_secret(settings)
    if session_factory is None:
        from mailintake.db.engine import open_database

        session_factory = open_database(settings.database.url, settings.base_dir)
    console = Console(settings=settings, factory=session_factory, sources=load_sources(settings),
                      templates=template_environment(settings),
                      storage=Storage(settings.path(settings.storage.dir)), nav=navigation())
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie=COOKIE,
                   max_age=int(settings.web.session_hours * 3600), same_site="lax",
                   https_only=settings.web.base_url.lower().startswith("https://")),
        Middleware(AuthMiddleware),
    ]
    routes = [*all_routes(), Mount("/static", StaticFiles(directory=STATIC), name="static")]
    install_log_filter()  # no applicant's link in any log line
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = console
    return app
