"""A test's ground: its files, its database and settings pointing at the test servers (the ``env`` fixtures
of tests/support/fixtures/env.py hand one to every test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings, load_settings
from mailintake.db.engine import open_database
from tests.support.helpers import make_settings
from tests.support.servers import ImapServer, SmtpSink


@dataclass
class Env:
    """A test's settings and database: ``root`` holds its files, ``url`` is its database."""

    root: Path
    url: str
    _factory: sessionmaker[Session] | None = field(default=None, repr=False)

    @classmethod
    def sqlite(cls, root: Path) -> Env:
        """The SQLite file ``mailintake.db`` under ``root`` (for module-scoped set-ups too)."""
        return cls(root, f"sqlite:///{root / 'mailintake.db'}")

    def settings(self, *, imap: ImapServer | None = None, smtp: SmtpSink | None = None,
                 **sections: dict[str, Any]) -> Settings:
        """Settings pointing at the test servers (plaintext), storage and reports under ``root``."""
        return make_settings(self.root, imap=imap, smtp=smtp, db_url=self.url, **sections)

    def load(self, **sections: dict[str, Any]) -> Settings:
        """The shipped defaults with only ``sections`` (and this database) overridden."""
        return load_settings(None, environ={}, overrides={"database": {"url": self.url}, **sections})

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """The migrated database (opened on first use)."""
        if self._factory is None:
            self._factory = open_database(self.url)
        return self._factory

    def close(self) -> None:
        if self._factory is not None:
            self._factory.kw["bind"].dispose()
