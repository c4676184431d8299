"""What every handler needs: settings, the database, the campaign's data files, templates, storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.config.shipped import html_environment
from mailintake.db.storage import Storage

T = TypeVar("T")
TEMPLATES = Path(__file__).parents[1] / "templates"


@dataclass(frozen=True)
class CurrentUser:
    id: int
    login: str
    role: str

    @property
    def is_clerk(self) -> bool:
        return self.role == "clerk"


@dataclass
class Console:
    settings: Settings
    factory: sessionmaker[Session]
    sources: Sources
    templates: Environment
    storage: Storage
    #: the navigation bar: (path, label) of every area that has one
    nav: tuple[tuple[str, str], ...] = ()

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a query function ``fn(session, ...)`` in a worker thread (never blocking the event loop)."""
        return await run_in_threadpool(self._read, fn, args, kwargs)

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self.factory() as session:
            return fn(session, *args, **kwargs)

    async def act(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an office action ``fn(session, ...)`` in one transaction, in a worker thread."""
        return await run_in_threadpool(self._act, fn, args, kwargs)

    def _act(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self.factory() as session, session.begin():
            return fn(session, *args, **kwargs)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(self.settings.campaign.tz).date()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def template_environment(settings: Settings) -> Environment:
    tz = settings.campaign.tz

    def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value is not None else ""

    env = html_environment(TEMPLATES)
    env.filters.update(when=when)
    return env
