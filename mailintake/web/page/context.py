"""What every handler needs: settings, the database, the campaign's data files, templates, storage."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

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


class CheckGate:
    """At most ``limit`` password checks at once (argon2id takes 64 MiB and a core each); the rest queue."""

    def __init__(self, limit: int = 2) -> None:
        self._slots = asyncio.Semaphore(limit)
        self.running = 0
        self.peak = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                return await run_in_threadpool(fn, *args)
            finally:
                self.running -= 1


@dataclass
class Console:
    settings: Settings
    factory: sessionmaker[Session]
    sources: Sources
    templates: Environment
    storage: Storage
    password_checks: CheckGate = field(default_factory=CheckGate)
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

    def act_here(self, fn: Callable[..., T], *args: Any) -> T:
        """``act`` in the calling thread (for work already in a worker thread, e.g. a gated password check)."""
        return self._act(fn, args, {})

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(self.settings.campaign.tz).date()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def unit_url(name: str | None) -> str:
    """A unit's page, its name quoted whole (a ``/`` in a name stays inside the one path segment)."""
    return "/units/" + quote(name or "", safe="")


def template_environment(settings: Settings) -> Environment:
    tz = settings.campaign.tz

    def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value is not None else ""

    env = html_environment(TEMPLATES)
    env.filters.update(when=when, unit_url=unit_url)
    return env
