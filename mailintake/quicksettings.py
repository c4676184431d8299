"""The idle poll's settings without pydantic: a configuration validated before and unchanged since.

Validating the configuration imports pydantic and builds its models: about half of an idle poll's
start-up. So a full poll records, in its state file under the storage directory, the digest of
everything validation read — the config file (path and bytes), the ``MAILINTAKE_*`` environment,
the version and the validating code — with the few validated values the idle poll needs, passwords
left out. The next poll reads the same inputs (tomllib, no pydantic): only when their digest is the
recorded one does it use those values, the passwords taken from that same file and environment.
No record, any change, any doubt: the usual validation runs first, and the full poll.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake import __version__
from mailintake.config.file import base_dir_for, campaign_file_table, env_overrides, resolve_config_path

if TYPE_CHECKING:
    from mailintake.config.settings import Settings

STATE_FILE = "poll-state.json"
#: where the storage directory is when neither the file nor the environment says (a wrong guess only
#: means no record is found, and the full validation runs)
_DEFAULT_STORAGE = "var/storage"
_URL_PASSWORD = re.compile(r"^[^:]+://[^:/@]*:[^@]*@")
_PACKAGE = Path(__file__).parent


@dataclass(frozen=True)
class QuickMailbox:
    """What the idle poll needs of ``[mailbox]`` (validated values)."""

    host: str
    effective_port: int
    security: str
    username: str
    password: str
    folder: str
    timeout: float
    verify_tls: bool
    ca_file: str | None


@dataclass(frozen=True)
class QuickSettings:
    """What the idle poll needs of the settings."""

    mailbox: QuickMailbox
    database_url: str
    base_dir: str
    storage_dir: str

    @property
    def state_path(self) -> Path:
        return Path(self.storage_dir) / STATE_FILE


@dataclass(frozen=True)
class Inputs:
    """Everything validation reads, as read now."""

    path: Path
    data: dict[str, Any]
    overrides: dict[str, dict[str, Any]]
    digest: str


def _code_stamp() -> list[object]:
    """The validating code: mailintake's config modules and the installed pydantic (size and mtime)."""
    files = [_PACKAGE / "config" / "settings.py", _PACKAGE / "config" / "file.py", _PACKAGE / "config" / "campaign.py",
             _PACKAGE / "campaign" / "rules.py", _PACKAGE / "outbox" / "recipients.py"]
    spec = importlib.util.find_spec("pydantic")
    if spec is not None and spec.origin:
        files.append(Path(spec.origin).with_name("version.py"))
    stamps: list[object] = []
    for file in files:
        info = file.stat()
        stamps.append([str(file), info.st_size, info.st_mtime_ns])
    return stamps


def read_inputs(config_option: str | None, environ: dict[str, str] | None = None) -> Inputs | None:
    """The configuration's inputs and their digest; None when there is no readable TOML file."""
    env = dict(os.environ if environ is None else environ)
    path = resolve_config_path(config_option, env)
    if path is None:
        return None
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
        stamp = _code_stamp()
    except (OSError, ValueError):  # unreadable, not TOML: validation says so in one line
        return None
    mine = sorted((name, value) for name, value in env.items() if name.startswith("MAILINTAKE_"))
    overrides = env_overrides(env)
    # validation also reads the [campaign] table of the campaign file: a change there is a change too
    section = data.get("campaign")
    campaign = {**(section if isinstance(section, dict) else {}), **overrides.get("campaign", {})}
    campaign_file = campaign_file_table({"base_dir": str(base_dir_for(path)), **data, "campaign": campaign})
    digest = hashlib.sha256(json.dumps([str(path.resolve()), raw.hex(), mine, __version__, stamp, campaign_file],
                                       default=str).encode())
    return Inputs(path, data, overrides, digest.hexdigest())


def _raw(inputs: Inputs, section: str, key: str) -> Any:
    """A value as validation received it: the environment's override, else the file's (None: neither)."""
    if key in inputs.overrides.get(section, {}):
        return inputs.overrides[section][key]
    part = inputs.data.get(section)
    return part.get(key) if isinstance(part, dict) else None


def _state_path(inputs: Inputs) -> Path:
    base = inputs.data.get("base_dir") or base_dir_for(inputs.path)
    storage = _raw(inputs, "storage", "dir") or _DEFAULT_STORAGE
    return Path(str(base)) / str(storage) / STATE_FILE


def remembered(inputs: Inputs | None) -> QuickSettings | None:
    """The recorded settings when ``inputs`` are exactly those a full poll validated; else None."""
    if inputs is None:
        return None
    try:
        record = json.loads(_state_path(inputs).read_text("utf-8"))
        if record.get("inputs") != inputs.digest:
            return None
        values = record["settings"]
        password = _raw(inputs, "mailbox", "password") or ""
        url = values["database_url"] or _raw(inputs, "database", "url")
        if not isinstance(password, str) or not isinstance(url, str):
            return None
        mailbox = QuickMailbox(**{**values["mailbox"], "password": password})
        return QuickSettings(mailbox, url, values["base_dir"], values["storage_dir"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def snapshot(settings: Settings) -> dict[str, Any]:
    """The values to record for the next idle poll: no password (a database URL holding one stays out)."""
    box = settings.mailbox
    mailbox = QuickMailbox(box.host, box.effective_port, box.security, box.username, "", box.folder, box.timeout,
                           box.verify_tls, box.ca_file)
    url = settings.database.url
    return {"mailbox": {k: v for k, v in asdict(mailbox).items() if k != "password"},
            "database_url": None if _URL_PASSWORD.match(url) else url, "base_dir": settings.base_dir,
            "storage_dir": str(settings.path(settings.storage.dir).absolute())}
