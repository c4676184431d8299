"""The Jinja2 environment for reply templates the office edits under ``config/templates/``.

Plain-text templates (``reply_<kind>.txt.j2``) are rendered without escaping; an optional HTML
variant (``reply_<kind>.html.j2``) is autoescaped, so a ``<script>`` typed into a form shows as text.
When the office's copy of a template is missing or broken, the copy shipped with mailintake is used
and the problem is logged, so an applicant is still answered.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake.campaign.files import campaign_path
from mailintake.config.settings import Settings
from mailintake.config.shipped import shipped, warn_once
from mailintake.errors import ConfigError

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger(__name__)

#: the templates shipped with mailintake (config/templates of a checkout, package data of a wheel)
SHIPPED_DIR = shipped("templates")


def make_environment(directory: str | Path) -> Environment:
    """An environment loading from ``directory``; ``.html``/``.html.j2`` templates autoescaped."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape  # on first use: the poll path stays light

    return Environment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def template_dir(settings: Settings) -> Path:
    """The configured directory (the shipped one for the default value); a missing custom one is warned
    about once and replaced by the shipped one, so applicants are still answered."""
    try:
        return campaign_path(settings, "templates")
    except ConfigError as exc:
        warn_once(f"{exc}; the shipped templates are used")
        return SHIPPED_DIR


@functools.lru_cache(maxsize=8)
def _environment(directory: Path) -> Environment:
    """One environment per directory: Jinja caches compiled templates (and reloads edited ones)."""
    return make_environment(directory)


def _render(directory: Path, name: str, context: dict[str, Any]) -> str:
    return _environment(directory).get_template(name).render(**context)


def render(settings: Settings, name: str, context: dict[str, Any], *, optional: bool = False) -> str | None:
    """Render template ``name`` from the configured directory, falling back to the shipped copy.

    With ``optional`` a template absent from both places yields None (the HTML variants).
    """
    from jinja2 import TemplateError, TemplateNotFound

    configured = template_dir(settings)
    try:
        return _render(configured, name, context)
    except TemplateNotFound:
        if not (SHIPPED_DIR / name).exists():
            if optional:
                return None
            raise
        if configured.resolve() != SHIPPED_DIR.resolve():
            warn_once(f"template {name} not found in {configured}; using the shipped copy")
    except TemplateError as exc:
        if configured.resolve() == SHIPPED_DIR.resolve():
            raise
        warn_once(f"template {name} in {configured} is broken ({exc}); using the shipped copy")
        if optional and not (SHIPPED_DIR / name).exists():
            return None
    return _render(SHIPPED_DIR, name, context)


def check_templates(settings: Settings, names: list[str]) -> list[str]:
    """One line per template in the configured directory that is missing or does not compile."""
    from jinja2 import TemplateError, TemplateNotFound

    problems: list[str] = []
    env = make_environment(template_dir(settings))
    for name in names:
        try:
            env.get_template(name)
        except TemplateNotFound:
            problems.append(f"templates: {name} not found in {template_dir(settings)}; the shipped copy is used")
        except TemplateError as exc:
            problems.append(f"templates: {name} does not compile ({exc}); fix it")
    return problems
