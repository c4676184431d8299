"""Configuration: one TOML file plus ``MAILINTAKE_<SECTION>__<KEY>`` environment overrides.

Validated once at start-up (pydantic) and passed down as a frozen ``Settings`` object.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from datetime import datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from mailintake.config.campaign import CampaignSettings, Section, campaign_file_defaults
from mailintake.config.file import (  # re-exported: the CLI reads them from here
    DEFAULT_CONFIG_PATH,
    ENV_PREFIX,
    base_dir_for,
    resolve_config_path,
    world_readable_secret,
)
from mailintake.config.file import env_overrides as _env_overrides
from mailintake.errors import ConfigError
from mailintake.util.addresses import valid_address

__all__ = ["DEFAULT_CONFIG_PATH", "ENV_PREFIX", "CampaignSettings", "Settings", "base_dir_for",
           "campaign_file_defaults", "load_settings", "resolve_config_path", "world_readable_secret"]

#: a remote mailbox polled more often than this gets the account blocked (QQ Mail does)
MIN_POLL_INTERVAL = 60
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Port = Annotated[int, Field(ge=1, le=65535)]
Positive = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]


def split_address(value: str) -> tuple[str, str]:
    """(display name, address) of ``addr`` or ``Name <addr>``; ValueError unless exactly one valid address."""
    text = value.strip()
    pairs = getaddresses([text])
    if len(pairs) != 1 or "," in text.replace(pairs[0][0], "", 1):
        raise ValueError(f"{value!r} is not one e-mail address; write it as name@example.com")
    name, addr = pairs[0]
    if not valid_address(addr):
        raise ValueError(f"{value!r} is not an e-mail address; write it as name@example.com "
                         "or 名称 <name@example.com>")
    return name.strip(), addr


_Section = Section


class MailboxSettings(_Section):
    host: str = "imap.qq.com"
    port: Port | None = None
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password: str = Field(default="", repr=False)
    folder: str = "INBOX"
    timeout: Seconds = 60.0
    #: verify the server certificate (turn off only for a local test server)
    verify_tls: bool = True
    #: CA bundle for a private certificate authority
    ca_file: str | None = None
    #: after the database commit: "none" leaves mail untouched, "flag" sets a keyword, "move" moves it
    processed_action: Literal["none", "flag", "move"] = "none"
    processed_flag: str = "$MailintakeProcessed"
    processed_folder: str = "Processed"
    max_message_bytes: Positive = 50 * 1024 * 1024
    fetch_batch: Positive = 50
    #: bytes of mail held in memory at once; a burst of large mails is fetched in smaller groups
    fetch_batch_bytes: Positive = 64 * 1024 * 1024
    idle: bool = False

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 993 if self.security == "ssl" else 143


class SmtpSettings(_Section):
    host: str = "smtp.qq.com"
    port: Port | None = None
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password: str = Field(default="", repr=False)
    sender: str = ""
    #: the From name; empty: [campaign] office_name
    sender_name: str = ""
    timeout: Seconds = 60.0
    verify_tls: bool = True
    ca_file: str | None = None
    #: at most this many automatic replies to one address per hour (loop guard)
    max_replies_per_hour: Positive = 5
    #: also copy the reply to an e-mail address found in 表1's 联系方式
    cc_contact: bool = False
    max_attempts: Positive = 8

    @model_validator(mode="before")
    @classmethod
    def _split_sender(cls, data: Any) -> Any:
        """``sender = "名称 <addr>"`` (how mail programs show an address): the name becomes sender_name."""
        if isinstance(data, dict) and isinstance(data.get("sender"), str) and data["sender"].strip():
            try:
                name, addr = split_address(data["sender"])
            except ValueError:
                return data  # the field validator names the key
            data = {**data, "sender": addr}
            if name:
                data["sender_name"] = name
        return data

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        return split_address(value)[1] if value.strip() else ""

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/mailintake.db"


class StorageSettings(_Section):
    dir: str = "var/storage"


class ReportSettings(_Section):
    recipients: list[str] = Field(default_factory=list)
    time: dt.time = dt.time(8, 0)
    dir: str = "var/reports"
    #: the final 截止报告 goes out this long after [campaign] deadline (seconds or ISO 8601, e.g. "PT1H")
    final_delay: dt.timedelta = dt.timedelta(hours=1)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [split_address(value)[1] for value in values]


class RemindersSettings(_Section):
    """催报: scheduled sending is opt-in; ``times`` are local date-times in the campaign time zone."""

    enabled: bool = False
    times: list[datetime] = Field(default_factory=list)
    correction_after_hours: float = Field(default=24.0, gt=0)
    paper_after_days: Annotated[int, Field(ge=0)] = 2


class ScheduleSettings(_Section):
    poll_interval: Positive = 300
    misfire_grace: Annotated[int, Field(ge=0)] = 3600


class LimitsSettings(_Section):
    max_attachment_bytes: Positive = 50 * 1024 * 1024
    max_uncompressed_bytes: Positive = 200 * 1024 * 1024
    max_compression_ratio: Positive = 200
    max_archive_members: Positive = 500
    max_archive_depth: Positive = 3
    #: LibreOffice took up to 31 s (median 10 s) per corpus file at load 8 on 2 cores: 4x margin
    parse_timeout: Seconds = 120.0
    parse_memory_mb: Annotated[int, Field(ge=64)] = 1024


class WebSettings(_Section):
    """The console (``mailintake web``); ``secret_key`` signs the session cookies."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: str = Field(default="", repr=False)
    #: the console's public address, e.g. https://intake.example.gov.cn (links in the report; https → Secure cookies)
    base_url: str = ""
    session_hours: float = Field(default=12.0, gt=0)
    #: the applicant's status pages' public address (every reply links <applicant_url>/s/<token>); "" = off
    applicant_url: str = ""

    @field_validator("applicant_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if url and (not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url)):
            raise ValueError(f"{value!r} is not a web address; write it as https://intake.example.gov.cn")
        return url

    @model_validator(mode="after")
    def _applicant_links_need_a_secret(self) -> WebSettings:
        if self.applicant_url and len(self.secret_key) < 16:
            raise ValueError("applicant_url is set but secret_key is not (or is shorter than 16 characters): the "
                             "links are signed with it; set MAILINTAKE_WEB__SECRET_KEY for the worker and the console")
        return self


class Settings(_Section):
    mailbox: MailboxSettings = MailboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    campaign: CampaignSettings
    report: ReportSettings = ReportSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    limits: LimitsSettings = LimitsSettings()
    reminders: RemindersSettings = RemindersSettings()
    web: WebSettings = WebSettings()
    #: where relative paths in the file are resolved (the config file's project root)
    base_dir: str = "."

    @model_validator(mode="after")
    def _poll_politely(self) -> Settings:
        if self.schedule.poll_interval < MIN_POLL_INTERVAL and self.mailbox.host not in LOOPBACK_HOSTS:
            raise ValueError(f"[schedule] poll_interval: {self.schedule.poll_interval} s is too often for "
                             f"{self.mailbox.host} (mail providers block such accounts); use at least "
                             f"{MIN_POLL_INTERVAL}")
        return self

    def path(self, value: str) -> Path:
        """Resolve a configured path relative to ``base_dir``."""
        candidate = Path(value)
        return candidate if candidate.is_absolute() else Path(self.base_dir) / candidate

    @property
    def own_addresses(self) -> set[str]:
        return {a.lower() for a in (self.mailbox.username, self.smtp.sender, self.smtp.username) if "@" in a}


def _describe(error: dict[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return f"config: {message}; fix it in the config file"
    location = ".".join(str(part) for part in error["loc"][:2])
    section, _, key = location.partition(".")
    where = f"[{section}] {key}" if key else f"[{section}]"
    env = f"MAILINTAKE_{section.upper()}__{key.upper()}" if key else ""
    if error["type"] == "extra_forbidden":
        return f"config: unknown key {where}; remove it or check its spelling"
    if error["type"] == "missing":
        return (f"config: {where} is not set; write it in the config file or in the [campaign] table of the "
                f"campaign file ([campaign] forms) (or set {env})")
    hint = f" (or set {env})" if env else ""
    return f"config: {where}: {message}; fix it in the config file{hint}"


def no_config_message() -> str:
    """The one line for a command run without a configuration file: where the example is, what to do."""
    from mailintake.config.shipped import shipped

    return (f"config: no configuration file; copy {shipped('mailintake.example.toml')} to "
            "config/mailintake.toml and fill it in, or pass --config PATH (or set MAILINTAKE_CONFIG)")


def load_settings(
    path: str | Path | None = None,
    *,
    environ: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    require_file: bool = False,
    strict: bool = False,
) -> Settings:
    """Read, merge and validate the configuration once; raise ConfigError with one line.

    ``strict`` (the CLI) also refuses what only breaks later: no sender address, a login without a password.
    """
    env = dict(os.environ if environ is None else environ)
    config_path = resolve_config_path(str(path) if path else None, env)
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            raw = config_path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"config: file {config_path} not found; copy config/mailintake.example.toml there "
                "or pass --config PATH"
            ) from None
        except OSError as exc:
            raise ConfigError(f"config: cannot read {config_path} ({exc.strerror}); check its permissions") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {config_path} is not valid TOML ({exc}); fix the syntax") from None
        data.setdefault("base_dir", str(base_dir_for(config_path)))
    elif require_file:
        raise ConfigError(no_config_message())
    else:
        # no file: the shipped form definitions and templates of this checkout, wherever we run from
        project_root = Path(__file__).resolve().parents[2]
        if (project_root / "config" / "forms.toml").exists():
            data.setdefault("base_dir", str(project_root))
    for section, values in _env_overrides(env).items():
        if isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    for section, values in (overrides or {}).items():
        data[section] = {**data.get(section, {}), **values}
    data["campaign"] = {**campaign_file_defaults(data), **data.get("campaign", {})}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(dict(exc.errors()[0]))) from None
    settings = _default_sender(settings)
    if strict:
        check_operational(settings)
    return settings


def default_settings() -> Settings:
    """Every default, no file and no environment: the shipped campaign."""
    return _default_sender(Settings.model_validate({"campaign": campaign_file_defaults({})}))


def _default_sender(settings: Settings) -> Settings:
    """No ``[smtp] sender``: the SMTP login, else the mailbox, when that is an address. No sender_name:
    the office's name."""
    if not settings.smtp.sender_name:
        smtp = settings.smtp.model_copy(update={"sender_name": settings.campaign.office_name})
        settings = settings.model_copy(update={"smtp": smtp})
    if settings.smtp.sender:
        return settings
    for candidate in (settings.smtp.username, settings.mailbox.username):
        if valid_address(candidate):
            return settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"sender": candidate})})
    return settings


def check_operational(settings: Settings) -> None:
    """What a valid file can still get wrong for a running service; ConfigError naming the key."""
    if not settings.smtp.sender:
        raise ConfigError("config: [smtp] sender is empty; set the address replies and the report are sent "
                          "from (or set MAILINTAKE_SMTP__SENDER)")
    for section, account in (("mailbox", settings.mailbox), ("smtp", settings.smtp)):
        if account.username and not account.password:
            raise ConfigError(f"config: [{section}] password is empty but username {account.username} is set; "
                              f"set MAILINTAKE_{section.upper()}__PASSWORD (QQ Mail: the 授权码)")
