"""Where the campaign's files are, and the form definitions read through the one cache.

Where ``[campaign] <key>`` points is decided by :func:`mailintake.config.shipped.campaign_file` (a key left at
its default falls back to the shipped copy; any other missing path is an error, everywhere). Every reader —
the parser children, the rules, the replies, the report, the export, the console — goes through here and
:mod:`mailintake.campaign.sources`; every file is cached by path, modification time and size
(:mod:`mailintake.campaign.cache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mailintake.campaign.cache import cached
from mailintake.config.shipped import CampaignFile, campaign_file

if TYPE_CHECKING:
    from mailintake.config.settings import Settings
    from parsers.definitions import FormSet


def campaign_path(settings: Settings, key: CampaignFile) -> Path:
    """The file ``[campaign] <key>`` points at; its shipped copy when the key keeps its default value.

    Raises ConfigError (one line naming the key) when a path the office chose does not exist.
    """
    return campaign_file(key, getattr(settings.campaign, key), settings.base_dir)


def _read_forms(path: Path) -> FormSet:
    from parsers.definitions import load_definitions

    return load_definitions(path)


def load_forms(path: str | Path) -> FormSet:
    """The form definitions of the file ``path`` (read again only when it changed)."""
    return cached(_read_forms, Path(path))


def campaign_forms(settings: Settings) -> FormSet:
    """The configured campaign's form definitions ([campaign] forms)."""
    return load_forms(campaign_path(settings, "forms"))
