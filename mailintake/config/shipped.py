"""The defaults shipped with mailintake: form definitions, roster, quotas, templates, example config.

In a checkout they are the files under ``config/``; in a wheel the same files are package data under
``mailintake/shipped/`` (pyproject's hatch ``force-include``). Resolved once, here, for everyone.

A ``[campaign]`` path left at its default value ("config/units.csv", …) that does not exist beside the
config file means "the shipped copy", silently; any other missing path is a configuration error.
"""

from __future__ import annotations

import functools
import logging
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mailintake.errors import ConfigError

if TYPE_CHECKING:
    from jinja2 import Environment

    from mailintake.config.settings import Settings

log = logging.getLogger(__name__)

CampaignFile = Literal["forms", "roster", "quotas", "templates"]
CAMPAIGN_FILES: tuple[CampaignFile, ...] = ("forms", "roster", "quotas", "templates")


@functools.cache
def _default_value(key: CampaignFile) -> str:
    """What ``[campaign] key`` names when left at its default (config is imported only when asked:
    the idle poll reads the campaign file without pydantic)."""
    from mailintake.config.settings import CampaignSettings

    return str(CampaignSettings.model_fields[key].default)


@functools.cache
def shipped_dir() -> Path:
    """Where the shipped defaults are: the package data of a wheel, else the checkout's ``config/``."""
    packaged = files("mailintake") / "shipped"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "config"


def shipped(name: str) -> Path:
    """A shipped file by its name under ``config/``: ``forms.toml``, ``templates``, ``mailintake.example.toml``…"""
    if name == "forms.toml":  # the parsers' own copy (a wheel ships it inside parsers/)
        from parsers.definitions import DEFAULT_PATH

        return DEFAULT_PATH
    return shipped_dir() / name


def campaign_path(settings: Settings, key: CampaignFile) -> Path:
    """The file ``[campaign] <key>`` points at; its shipped copy when the key keeps its default value.

    Raises ConfigError (one line naming the key) when a path the office chose does not exist.
    """
    value = getattr(settings.campaign, key)
    configured = settings.path(value)
    if configured.exists():
        return configured
    if value == _default_value(key):
        return shipped(Path(_default_value(key)).name)
    raise ConfigError(f"config: [campaign] {key}: {configured} not found; fix the path, or remove the key "
                      "to use the shipped copy")


@functools.cache
def warn_once(message: str) -> None:
    """Log ``message`` once per process (e.g. a missing template, not once per reply)."""
    log.warning("%s", message)


def html_environment(directory: Path) -> Environment:
    """Jinja2 for HTML pages (the report, the console): autoescaped, undefined names an error."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(directory)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)
