"""One module per area. Each exports ``ROUTES`` (Starlette routes) and may export ``NAV``
(path, label) to appear in the navigation bar, in the order of ``MODULES``.

POST handlers are written with ``mailintake.web.page.security.action`` (CSRF token + role checked).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

MODULES = ("auth", "health", "overview", "mails", "units", "submissions", "decisions", "reminders", "handoff",
           "reports", "audit", "downloads", "applicant")


@cache
def _modules() -> tuple[Any, ...]:
    return tuple(importlib.import_module(f"mailintake.web.routes.{name}") for name in MODULES)


def all_routes() -> list[Any]:
    return [route for module in _modules() for route in module.ROUTES]


@cache
def navigation() -> tuple[tuple[str, str], ...]:
    return tuple(module.NAV for module in _modules() if getattr(module, "NAV", None))
