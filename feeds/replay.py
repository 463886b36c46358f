"""The replay feed: Mention JSON lines from a file (CONTRACTS.md).

``speed=0`` replays as fast as possible; ``speed=1`` keeps the gaps between ``created_at``
times (2 = twice as fast). An invalid line is reported with its number and reason and
skipped; the rest of the file is still read. The cursor is the number of the last line
handed on, so an interrupted replay resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from feeds.base import ConfigError, Cursor, FeedAdapter, FeedItem, Malformed
from feeds.mentions import InvalidMention, mention_from_line

CURSOR_EVERY = 500
MAX_LINE_BYTES = 1_000_000
CHUNK = 65_536  # readline's limit; a big limit makes every call slow


def _rest_of_line(fh, start: bytes) -> tuple[bytes, bool]:
    """Read the rest of a long line; past MAX_LINE_BYTES skip to its end (too long)."""
    parts = [start]
    size = len(start)
    while True:
        part = fh.readline(CHUNK)
        if not part:
            break
        size += len(part)
        if size <= MAX_LINE_BYTES:
            parts.append(part)
        if part.endswith(b"\n"):
            break
    return b"".join(parts), size > MAX_LINE_BYTES


class ReplayFeed(FeedAdapter):
    """Mentions replayed from a JSON-lines file."""

    kind = "replay"
    platform = "replay"

    def __init__(self, name, options, env=None):
        super().__init__(name, options, env)
        path = self.options.get("path")
        if not path:
            raise ConfigError(f"replay feed {name!r} needs a path")
        self.path = Path(str(path)).expanduser()
        try:
            self.speed = float(self.options.get("speed", 0))
        except (TypeError, ValueError):
            raise ConfigError(f"replay feed {name!r}: speed must be a number") from None
        if self.speed < 0:
            raise ConfigError(f"replay feed {name!r}: speed must be 0 or more")
        if not self.path.is_file():
            raise ConfigError(f"replay file not found: {self.path}")

    @property
    def finite(self) -> bool:
        return True

    async def stream(self, cursor: str | None) -> AsyncIterator[FeedItem]:
        start = int(cursor) if cursor and cursor.isdigit() else 0
        previous = None
        last = time.monotonic()
        with self.path.open("rb") as fh:
            number = 0
            while True:
                raw = fh.readline(CHUNK)
                if not raw:
                    break
                number += 1
                if len(raw) == CHUNK and not raw.endswith(b"\n"):
                    raw, too_long = _rest_of_line(fh, raw)
                    if too_long:
                        yield Malformed(f"{self.path.name}:{number}",
                                        f"line longer than {MAX_LINE_BYTES} bytes")
                        continue
                if number <= start:
                    continue
                if not raw.strip():
                    continue
                try:
                    mention = mention_from_line(raw.rstrip(b"\r\n"), source=self.name)
                except InvalidMention as exc:
                    yield Malformed(f"{self.path.name}:{number}", str(exc))
                    continue
                if self.speed > 0 and previous is not None:
                    gap = (mention.created_at - previous).total_seconds() / self.speed
                    if gap > 0:
                        await asyncio.sleep(min(gap, 3600))
                previous = mention.created_at
                yield mention
                if number % CURSOR_EVERY == 0 or (self.speed > 0 and time.monotonic() - last > 0.5):
                    last = time.monotonic()
                    yield Cursor(str(number))
                    await asyncio.sleep(0)
            yield Cursor(str(number))
