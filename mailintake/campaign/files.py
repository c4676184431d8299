"""The campaign's files — form definitions, rules, roster, quotas, templates — found and read in one place.

Where ``[campaign] <key>`` points is decided by :func:`mailintake.config.shipped.campaign_file` (a key left at
its default falls back to the shipped copy; any other missing path is an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mailintake.config.shipped import CampaignFile, campaign_file

if TYPE_CHECKING:
    from mailintake.config.settings import Settings


def campaign_path(settings: Settings, key: CampaignFile) -> Path:
    """The file ``[campaign] <key>`` points at; its shipped copy when the key keeps its default value.

    Raises ConfigError (one line naming the key) when a path the office chose does not exist.
    """
    return campaign_file(key, getattr(settings.campaign, key), settings.base_dir)
