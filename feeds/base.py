"""The boundary to the outside world: one small base class every feed adapter implements.

An adapter turns one platform's wire format into normalised `Mention`s (``stream``) and
delivers outbox items back to that platform (``send``). Adapters keep no state outside
the store: the resume cursor they yield is persisted by the pipeline in the same
transaction as the mentions before it, and handed back on the next start.
Third-party adapters register under the entry-point group ``heatdesk.feeds``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar

from store.records import Mention, OutboxItem


@dataclass(frozen=True, slots=True)
class Deleted:
    """The platform says this post was deleted; the desk marks it and keeps the text."""

    platform: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Cursor:
    """Everything yielded before this is safe to resume after; persist ``value``."""

    value: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame or line that could not be parsed: reported, then skipped."""

    where: str
    reason: str


FeedItem = Mention | Deleted | Cursor | Malformed


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a delivered outbox item landed on the platform."""

    remote_id: str | None = None
    remote_url: str | None = None


class DeliveryError(Exception):
    """Delivery failed; ``retryable`` says whether trying again later may work."""

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class StreamError(Exception):
    """The stream failed (network, HTTP status); the supervisor reconnects with backoff.

    ``retry_after`` (seconds) is honoured when the platform says how long to wait (429).
    """

    def __init__(self, reason: str, *, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ConfigError(Exception):
    """A feed's configuration is wrong or incomplete (one clear line)."""


class FeedAdapter(ABC):
    """Base of every feed: ``stream`` mentions in, ``send`` outbox items out."""

    kind: ClassVar[str] = ""
    platform: ClassVar[str] = ""

    def __init__(self, name: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None):
        self.name = name
        self.options = dict(options)
        self.env = os.environ if env is None else env

    def secret(self, key: str) -> str | None:
        """The secret named by option ``key`` (an env var name), or None when unset."""
        var = self.options.get(key)
        if not var:
            return None
        return self.env.get(str(var)) or None

    @property
    def can_send(self) -> bool:
        """True when this feed holds credentials to post on its platform."""
        return False

    @property
    def finite(self) -> bool:
        """True for feeds that end by themselves (a replay at EOF)."""
        return False

    @abstractmethod
    def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        """Yield mentions (and deletes, cursors, malformed reports) from ``cursor`` on.

        One connection's worth: catch up from ``cursor``, then follow live. Return when the
        connection closes, raise ``StreamError`` when it fails; the supervisor
        (feeds/supervisor.py) calls ``stream`` again with the latest persisted cursor,
        backing off with jitter. Polling feeds loop inside with their interval. A finite
        feed (replay) returns at its end and is not restarted.
        """

    async def send(self, item: OutboxItem, target: Mention | None) -> Delivery:
        """Deliver ``item`` (``target`` is the customer's post it answers, if any)."""
        raise DeliveryError(f"feed {self.name!r} ({self.kind}) cannot send", retryable=False)

    async def aclose(self) -> None:
        """Release network resources."""


_BUILTIN = {
    "demo": "feeds.demo:DemoFeed",
    "replay": "feeds.replay:ReplayFeed",
    "mastodon": "feeds.mastodon:MastodonFeed",
    "bluesky": "feeds.bluesky:BlueskyFeed",
    "rss": "feeds.rss:RssFeed",
    "reddit": "feeds.reddit:RedditFeed",
    "webhook": "feeds.webhook:WebhookFeed",
}


def adapter_class(kind: str) -> type[FeedAdapter]:
    """The adapter class for ``kind``: built in, or from the ``heatdesk.feeds`` entry points."""
    target = _BUILTIN.get(kind)
    if target is None:
        for ep in entry_points(group="heatdesk.feeds"):
            if ep.name == kind:
                return ep.load()
        known = ", ".join(sorted(_BUILTIN))
        raise ConfigError(f"unknown feed kind {kind!r} (known: {known})")
    module_name, _, cls_name = target.partition(":")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"feed kind {kind!r} is not available yet ({exc})") from exc
    return getattr(module, cls_name)
