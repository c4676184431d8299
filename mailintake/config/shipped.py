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

log = logging.getLogger(__name__)

CampaignFile = Literal["forms", "roster", "quotas", "templates"]
#: where ``[campaign] <key>`` points when a config file leaves it out (relative to the base directory);
#: the settings model takes its defaults from here, so reading a default needs no model
CAMPAIGN_DEFAULTS: dict[CampaignFile, str] = {
    "forms": "config/forms.toml",
    "roster": "config/units.csv",
    "quotas": "config/quotas.toml",
    "templates": "config/templates",
}
CAMPAIGN_FILES: tuple[CampaignFile, ...] = tuple(CAMPAIGN_DEFAULTS)


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


def campaign_file(key: CampaignFile, value: str, base_dir: str | Path) -> Path:
    """The file ``[campaign] <key> = value`` names, relative paths under ``base_dir``: the one fallback policy.

    A key left at its default that does not exist there means the shipped copy; any other path that does
    not exist is a ConfigError (one line naming the key).
    """
    configured = Path(value) if Path(value).is_absolute() else Path(base_dir) / value
    if configured.exists():
        return configured
    if value == CAMPAIGN_DEFAULTS[key]:
        return shipped(Path(value).name)
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
