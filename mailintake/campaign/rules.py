"""The campaign's rules per table, read from the campaign file (config/forms.toml): which fields name
the unit, what identifies one submission, the per-unit limit, how replies describe a form, and how unit
names are matched against the roster. The parsers read the same file for labels; this is the rest.

Loaded once per file version (modification time and size) and passed down; nothing about a particular
campaign is written in code.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake.campaign.cache import cached
from mailintake.errors import ConfigError

if TYPE_CHECKING:
    from mailintake.config.settings import Settings

#: an identity entry meaning "the unit the form counts for, matched against the roster"
UNIT = "unit"


@dataclass(frozen=True)
class UnitRules:
    """How typed unit names are compared with the roster's ([units] of the campaign file)."""

    drop_prefixes: tuple[str, ...] = ()
    min_containment: int = 6
    #: the 名额配比 categories of the roster and quotas, in the order the report shows them
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableQuota:
    """A per-unit limit on the current submissions of one table ([table.quota])."""

    item: str
    message: str
    limit: int | None = None

    def text(self, *, unit: str, count: int, limit: int, item: str) -> str:
        return self.message.format(unit=unit, count=count, limit=limit, item=item[:40])


@dataclass(frozen=True)
class TableRules:
    """One table's campaign rules."""

    table: int
    unit_fields: tuple[str, ...] = (UNIT,)
    identity: tuple[str, ...] = (UNIT,)
    contact: str = ""
    person: str = ""
    unit_label: str = ""
    quota: TableQuota | None = None

    def typed_unit(self, fields: dict[str, str]) -> str:
        """The unit as the applicant typed it: the first filled unit field."""
        for key in self.unit_fields:
            value = fields.get(key, "")
            if value:
                return value
        return ""


@dataclass(frozen=True)
class CampaignRules:
    """Every table's rules; a table the file does not describe gets the defaults."""

    tables: dict[int, TableRules] = field(default_factory=dict)
    units: UnitRules = UnitRules()

    def table(self, number: int) -> TableRules:
        return self.tables.get(number) or TableRules(number)


def _strings(source: Path, where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f"campaign: {source} {where}: give a list of field keys, e.g. [\"unit\"]")
    return tuple(value)


def _quota(source: Path, number: int, raw: Any) -> TableQuota | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw.get("item") or not raw.get("message"):
        raise ConfigError(f"campaign: {source} 表{number} [table.quota] needs item and message")
    limit = raw.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"campaign: {source} 表{number} [table.quota] limit: give a number of at least 1")
    try:
        TableQuota(str(raw["item"]), str(raw["message"])).text(unit="", count=0, limit=1, item="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"campaign: {source} 表{number} [table.quota] message: unknown placeholder {exc}; "
                          "use {unit}, {count}, {limit} and {item}") from None
    return TableQuota(str(raw["item"]), str(raw["message"]), limit)


def _table(source: Path, raw: dict[str, Any]) -> TableRules:
    number = int(raw["table"])
    keys = {str(item.get("key")) for item in raw.get("field", []) if isinstance(item, dict)}
    unit_fields = _strings(source, f"表{number} unit", raw.get("unit", [UNIT]))
    identity = _strings(source, f"表{number} identity", raw.get("identity", [UNIT]))
    reply = raw.get("reply") or {}
    for key in (*unit_fields, *(k for k in identity if k != UNIT), *(str(reply.get("person") or ""),)):
        if key and keys and key not in keys:
            raise ConfigError(f"campaign: {source} 表{number}: no field {key!r}; use one of {', '.join(sorted(keys))}")
    return TableRules(table=number, unit_fields=unit_fields, identity=identity,
                      contact=str(raw.get("contact") or ""), person=str(reply.get("person") or ""),
                      unit_label=str(reply.get("unit_label") or ""), quota=_quota(source, number, raw.get("quota")))


def parse_campaign(data: dict[str, Any], source: Path) -> CampaignRules:
    units = data.get("units") or {}
    try:
        tables = {rules.table: rules for rules in (_table(source, raw) for raw in data.get("table", []))}
        unit_rules = UnitRules(drop_prefixes=_strings(source, "[units] drop_prefixes", units.get("drop_prefixes", [])),
                               min_containment=int(units.get("min_containment", UnitRules.min_containment)),
                               categories=_strings(source, "[units] categories", units.get("categories", [])))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"campaign: {source} is malformed ({exc}); compare it with config/forms.toml") from None
    return CampaignRules(tables, unit_rules)


def read_toml(path: Path, what: str, missing: str) -> dict[str, Any]:
    """A campaign data file as a dict; ConfigError (one line: ``what``, the path, the fix) otherwise."""
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what}: {path} not found; {missing}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read {path} ({exc}); fix the file") from None


def _read_campaign(path: Path) -> CampaignRules:
    return parse_campaign(read_toml(path, "campaign", "fix [campaign] forms"), path)


def load_campaign(path: str | Path) -> CampaignRules:
    """The rules of the campaign file ``path``, read again only when the file changed."""
    return cached(_read_campaign, Path(path))


@functools.cache
def default_campaign() -> CampaignRules:
    """The shipped campaign's rules (the 双争双创 forms)."""
    from mailintake.config.shipped import shipped

    return load_campaign(shipped("forms.toml"))


def campaign_rules(settings: Settings) -> CampaignRules:
    """The configured campaign's rules ([campaign] forms)."""
    from mailintake.campaign.files import campaign_path

    return load_campaign(campaign_path(settings, "forms"))
