"""The award quotas of 附件2 (config/quotas.toml): the total per honour and its 名额配比 per category;
and the per-unit limit of a table ([table.quota] of the campaign file) the quota rule applies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailintake.campaign.roster import CATEGORIES
from mailintake.campaign.rules import CampaignRules, TableQuota, read_toml
from mailintake.config.shipped import shipped
from mailintake.errors import ConfigError
from parsers.records import Flag

DEFAULT_PATH = shipped("quotas.toml")


@dataclass(frozen=True)
class CategoryQuota:
    """名额配比 of one category: a number, or None with a text such as 视情."""

    category: str
    quota: int | None
    text: str


@dataclass(frozen=True)
class HonourQuota:
    """One honour (one application table)."""

    table: int
    name: str
    total: int | None
    total_text: str
    note: str
    categories: tuple[CategoryQuota, ...]

    def quota(self, category: str) -> CategoryQuota | None:
        for item in self.categories:
            if item.category == category:
                return item
        return None


@dataclass(frozen=True)
class Quotas:
    honours: tuple[HonourQuota, ...]

    def get(self, table: int) -> HonourQuota:
        for honour in self.honours:
            if honour.table == table:
                return honour
        raise KeyError(f"no quota for 表{table}")


@dataclass(frozen=True)
class UnitLimit:
    """At most ``limit`` current submissions of ``table`` per unit (表1: 原则上每家申报不超过2个)."""

    table: int
    limit: int
    quota: TableQuota

    def flag(self, fields: dict[str, str], typed_unit: str, counted: int) -> Flag:
        """The quota_exceeded flag of a form beyond the limit; ``counted``: its unit's earlier ones."""
        text = self.quota.text(unit=typed_unit, count=counted, limit=self.limit, item=fields.get(self.quota.item, ""))
        return Flag("quota_exceeded", text, field=self.quota.item)


def unit_limit(campaign: CampaignRules, table: int, default_limit: int) -> UnitLimit | None:
    """The per-unit limit of ``table``, or None when its table has no [table.quota];
    ``default_limit`` ([campaign] max_projects_per_unit) when the quota names no limit of its own."""
    quota = campaign.table(table).quota
    if quota is None:
        return None
    return UnitLimit(table, quota.limit or default_limit, quota)


def _category(source: Path, table: int, category: str, value: Any, categories: tuple[str, ...]) -> CategoryQuota:
    if categories and category not in categories:
        raise ConfigError(
            f"quotas: {source} 表{table}: unknown category {category!r}; use one of {' / '.join(categories)}"
        )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"quotas: {source} 表{table} {category}: give a number or a text such as \"视情\"")
    if isinstance(value, int):
        return CategoryQuota(category, value, f"{value}个左右")
    return CategoryQuota(category, None, value)


def parse_quotas(data: dict[str, Any], source: Path = DEFAULT_PATH,
                 categories: tuple[str, ...] = CATEGORIES) -> Quotas:
    """``categories``: the campaign's ([units] categories of the campaign file); the shipped ones by default."""
    honours: list[HonourQuota] = []
    for raw in data.get("honour", []):
        try:
            table = int(raw["table"])
            name = str(raw["name"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"quotas: {source}: every [[honour]] needs table and name") from None
        total = raw.get("total")
        honours.append(HonourQuota(
            table=table,
            name=name,
            total=int(total) if total is not None else None,
            total_text=str(raw.get("total_text") or (f"共{total}个" if total is not None else "")),
            note=str(raw.get("note", "")),
            categories=tuple(_category(source, table, c, v, categories)
                             for c, v in dict(raw.get("categories", {})).items()),
        ))
    if not honours:
        raise ConfigError(f"quotas: {source} defines no [[honour]]; restore config/quotas.toml")
    return Quotas(tuple(sorted(honours, key=lambda h: h.table)))


def load_quotas(path: str | Path | None = None, categories: tuple[str, ...] = CATEGORIES) -> Quotas:
    """Load quotas.toml (the repository's copy by default) for a campaign with ``categories``."""
    source = Path(path) if path is not None else DEFAULT_PATH
    return parse_quotas(read_toml(source, "quotas", "restore config/quotas.toml"), source, categories)
