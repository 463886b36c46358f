"""Customer-service sentiment: VADER plus a domain lexicon and phrase rules.

Raw VADER reads "support transferred me three times ... Never again. Terrible service."
as positive; a desk needs stakes and threats to read as negative even when the words
around them are polite.
"""

from __future__ import annotations

import re
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_STAKES = re.compile(
    r"never again|charged twice|chargeback|third time|retell|transferred me|"
    r"no one (?:replies|answers)|still waiting|refund",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """One shared VADER analyser (loading its lexicon takes a while)."""
    return SentimentIntensityAnalyzer()


def raw_vader(text: str) -> float:
    """VADER's compound score, untouched."""
    return analyzer().polarity_scores(text)["compound"]


def score(text: str) -> float:
    """Customer-service compound score in [-1, 1]; negative means unhappy."""
    compound = raw_vader(text)
    hits = len(_STAKES.findall(text))
    if hits:
        compound = min(compound, 0.0) - 0.3 * hits
    return max(-1.0, min(1.0, compound))


def score_many(texts: list[str]) -> list[float]:
    """Scores for a batch of texts."""
    return [score(t) for t in texts]
