"""The desk's configuration (TOML, CONTRACTS.md): loaded, checked, and given defaults.

Secrets are only ever named by environment variable (``*_env`` keys); a config file that
holds a literal secret is refused with a hint. Paths default to platformdirs locations.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from platformdirs import user_config_dir, user_data_dir

from store.records import StoreError
from store.rules.heat import HeatWeights
from store.rules.sla import SlaTargets

APP = "heatdesk"
SECRET_KEYS = ("token", "password", "secret", "client_secret", "api_key", "access_token")
FEED_KINDS = ("mastodon", "bluesky", "rss", "reddit", "webhook", "demo", "replay")


class ConfigError(StoreError):
    """The config file is missing, unreadable or wrong (one clear line)."""


def default_config_path() -> Path:
    """``HEATDESK_CONFIG``, else the user config dir's heatdesk.toml."""
    env = os.environ.get("HEATDESK_CONFIG")
    return Path(env) if env else Path(user_config_dir(APP)) / "heatdesk.toml"


def default_db_path() -> Path:
    """The SQLite file in the user data dir."""
    return Path(user_data_dir(APP)) / "heatdesk.db"


@dataclass
class Config:
    """Everything a heatdesk process reads from its config file."""

    brand: str = "Acme Outfitters"
    handles: list[str] = field(default_factory=list)
    case_window_hours: float = 24.0
    undo_seconds: float = 10.0
    promise_buffer_minutes: float = 30.0
    sla: SlaTargets = field(default_factory=SlaTargets)
    weights: HeatWeights = field(default_factory=HeatWeights)
    feeds: list[dict[str, Any]] = field(default_factory=list)
    escalation_targets: list[dict[str, Any]] = field(default_factory=list)
    saved_replies: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    wallboard: dict[str, Any] = field(default_factory=dict)
    qa_rubric: list[str] = field(default_factory=list)
    theme: str | None = None
    path: Path | None = None

    def feed(self, name: str) -> dict[str, Any] | None:
        """The feed table called ``name``, if any."""
        return next((f for f in self.feeds if f.get("name") == name), None)


def _check_secrets(table: dict[str, Any], where: str) -> None:
    for key, value in table.items():
        lowered = key.lower()
        if lowered.endswith("_env"):
            continue
        if any(lowered == s or lowered.endswith("_" + s) for s in SECRET_KEYS) or (
            lowered == "url" and where.startswith("escalation")
        ):
            raise ConfigError(
                f"{where}: '{key}' holds a literal secret; put it in an environment variable "
                f"and name that variable with '{key}_env' instead"
            )
        if isinstance(value, str) and _url_with_secret(value):
            raise ConfigError(
                f"{where}: '{key}' holds a literal secret (a password or token inside the "
                f"URL); put the URL in an environment variable and name that variable with "
                f"'{key}_env' instead"
            )


def _url_with_secret(value: str) -> bool:
    """A URL carrying credentials: ``https://user:pass@host`` or ``?access_token=...``."""
    if "://" not in value:
        return False
    try:
        parts = urlsplit(value.strip())
        if parts.password:
            return True
        names = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    except ValueError:  # not a URL after all (a bad port, say): nothing to find in it
        return False
    return any(n == s or n.endswith("_" + s) for n in names for s in SECRET_KEYS)


def _number(table: dict, key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{where}.{key} must be a non-negative number, not {value!r}")
    return float(value)


def _table(data: Any, key: str, where: str = "") -> dict[str, Any]:
    value = data.get(key, {}) if isinstance(data, dict) else {}
    if not isinstance(value, dict):
        raise ConfigError(f"[{where}{key}] must be a table")
    return value


def _list(data: dict, key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}{key} must be an array")
    return value


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Check a decoded TOML document and build a Config."""
    desk = _table(data, "desk")
    cfg = Config(path=path)
    brand = desk.get("brand", cfg.brand)
    if not isinstance(brand, str):
        raise ConfigError("desk.brand must be a string")
    cfg.brand = brand
    handles = desk.get("handles", [])
    if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
        raise ConfigError("desk.handles must be a list of strings")
    cfg.handles = handles
    cfg.case_window_hours = _number(desk, "case_window_hours", 24, "desk")
    cfg.undo_seconds = _number(desk, "undo_seconds", 10, "desk")
    cfg.promise_buffer_minutes = _number(desk, "promise_buffer_minutes", 30, "desk")
    theme = desk.get("theme")
    if theme is not None and not isinstance(theme, str):
        raise ConfigError("desk.theme must be a theme name")
    cfg.theme = theme
    sla = _table(data, "sla")
    try:
        cfg.sla = SlaTargets(
            first_response={k: float(v) for k, v in sla.get("first_response", {"hot": 15, "normal": 60}).items()},
            next_response={k: float(v) for k, v in sla.get("next_response", {"hot": 30, "normal": 120}).items()},
        )
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise ConfigError("[sla] first_response/next_response must map priority to minutes") from None
    weights = _table(_table(data, "heat"), "weights", "heat.")
    if not isinstance(weights, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in weights.values()
    ):
        raise ConfigError("[heat.weights] must map part names to numbers")
    cfg.weights = HeatWeights.from_config(weights)
    feeds = data.get("feeds", [])
    if not isinstance(feeds, list):
        raise ConfigError("[[feeds]] must be an array of tables")
    names: set[str] = set()
    for i, feed in enumerate(feeds):
        if not isinstance(feed, dict):
            raise ConfigError(f"feeds[{i}] must be a table")
        name = feed.get("name")
        kind = feed.get("kind")
        if not name or not isinstance(name, str):
            raise ConfigError(f"feeds[{i}] needs a name")
        if name in names:
            raise ConfigError(f"feed name {name!r} is used twice")
        names.add(name)
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"feed {name!r} needs a kind ({', '.join(FEED_KINDS)})")
        _check_secrets(feed, f"feed {name!r}")
    cfg.feeds = feeds
    targets = _list(_table(data, "escalation"), "targets", "escalation.")
    for i, target in enumerate(targets):
        if not isinstance(target, dict):
            raise ConfigError(f"escalation.targets[{i}] must be a table")
        _check_secrets(target, f"escalation.targets[{i}]")
    cfg.escalation_targets = targets
    replies = _table(data, "replies")
    if not isinstance(replies, dict) or not all(isinstance(v, str) for v in replies.values()):
        raise ConfigError("[replies] must map names to reply texts")
    cfg.saved_replies = replies
    keys = _table(data, "keys")
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise ConfigError("[keys] must map action names to key names")
    cfg.keys = keys
    cfg.wallboard = _table(data, "wallboard")
    rubric = _table(data, "qa").get("rubric", [])
    cfg.qa_rubric = [str(r) for r in rubric] if isinstance(rubric, list) else []
    return cfg


def load_config(path: Path | str | None = None, *, required: bool = False) -> Config:
    """Load the config at ``path`` (or the default); a missing default file gives defaults."""
    explicit = path is not None or bool(os.environ.get("HEATDESK_CONFIG"))
    target = Path(path) if path is not None else default_config_path()
    if not target.exists():
        if explicit or required:
            raise ConfigError(f"config file not found: {target}")
        return Config()
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{target}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{target}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{target}: cannot read ({exc.strerror})") from None
    return parse_config(data, target)


EXAMPLE = '''\
# heatdesk configuration. Secrets are never written here: name the environment
# variable that holds each one (token_env, password_env, secret_env, url_env).

[desk]
brand = "Acme Outfitters"
handles = ["acme@mastodon.example", "acme.example.com"]   # who "we" are, per platform
case_window_hours = 24
undo_seconds = 10
promise_buffer_minutes = 30     # added to the estimate when promising a time

[sla]                           # minutes, per priority
first_response = { hot = 15, normal = 60 }
next_response = { hot = 30, normal = 120 }

[heat.weights]                  # optional overrides
negativity = 40
urgency = 15
reach = 15
sla = 20
repeat = 10

[replies]                       # saved replies; {customer}, {promised_time}, {agent}, {brand}
ack = "Hi {customer}, sorry about this. We're on it and will come back to you by {promised_time}."
followup = "Hi {customer}, we hope that's sorted now. Would you share how it went?"
dm = "Hi {customer}, could you send us a DM with your order number so we can look into it?"

# [[feeds]]
# name = "masto"
# kind = "mastodon"
# base_url = "https://mastodon.example"
# token_env = "HEATDESK_MASTODON_TOKEN"
# streams = ["user", "hashtag:acme"]

[[feeds]]
name = "demo"
kind = "demo"
rate = 2          # mentions per second
seed = 7

# [[escalation.targets]]
# tier = 1
# kind = "slack"
# url_env = "HEATDESK_SLACK_URL"
'''
