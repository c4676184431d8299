"""The configuration file and its environment overrides, before validation.

Validation lives in :mod:`mailintake.config.settings`; this module only finds the file, reads the
``MAILINTAKE_<SECTION>__<KEY>`` overrides and checks the file's permissions.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from mailintake.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/mailintake.toml")
ENV_PREFIX = "MAILINTAKE_"


def base_dir_for(config_path: Path) -> Path:
    """Where relative paths in the file are resolved: the project root for ``…/config/x.toml``, else its folder."""
    folder = config_path.resolve().parent
    return folder.parent if folder.name == "config" else folder


def env_overrides(environ: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``MAILINTAKE_<SECTION>__<KEY>`` variables as {section: {key: value}} (recipients: a comma list)."""
    overrides: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        if section and key:
            if key == "recipients":
                overrides.setdefault(section, {})[key] = [v.strip() for v in value.split(",") if v.strip()]
            else:
                overrides.setdefault(section, {})[key] = value
    return overrides


def resolve_config_path(explicit: str | None, environ: dict[str, str] | None = None) -> Path | None:
    """--config PATH, else $MAILINTAKE_CONFIG, else config/mailintake.toml if it exists."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("MAILINTAKE_CONFIG"):
        return Path(env["MAILINTAKE_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def world_readable_secret(path: Path) -> bool:
    """True when a config file holding a password can be read by every user on the machine."""
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return False
    has_password = any(
        line.strip().startswith("password") and line.split("=", 1)[-1].strip() not in ('""', "''")
        for line in text.splitlines()
    )
    return has_password and bool(mode & stat.S_IROTH)


def campaign_file_table(data: dict[str, Any]) -> dict[str, Any]:
    """The ``[campaign]`` table of the campaign file that ``[campaign] forms`` of the raw configuration
    ``data`` names (the shipped config/forms.toml by default); {} when the file cannot be read."""
    from mailintake.config.shipped import CAMPAIGN_DEFAULTS, campaign_file

    campaign = data.get("campaign")
    value = str((campaign if isinstance(campaign, dict) else {}).get("forms") or CAMPAIGN_DEFAULTS["forms"])
    try:
        path = campaign_file("forms", value, str(data.get("base_dir", ".")))
        table = tomllib.loads(path.read_text("utf-8")).get("campaign", {})
    except (ConfigError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return dict(table) if isinstance(table, dict) else {}
