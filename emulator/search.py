"""File search without embeddings: chunking, BM25 ranking and attribute filters. Pure functions.

Tokens are whitespace-separated words, a fair stand-in for the API's model tokens at the sizes
it chunks by (`auto`: 800 tokens per chunk, 400 shared with the next). Scores are BM25 divided
by the score a chunk would approach if it saturated every query term, so they lie in 0..1 and a
`score_threshold` means the same thing whatever the corpus.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
K1 = 1.2
B = 0.75

_TOKEN = re.compile(r"\S+")
_WORD = re.compile(r"\w+")
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def chunk(
    text: str, max_tokens: int = AUTO_MAX_TOKENS, overlap: int = AUTO_OVERLAP_TOKENS
) -> list[str]:
    """Windows of at most `max_tokens` tokens, each sharing `overlap` tokens with the next,
    copied verbatim from `text` (from a window's first token to its last)."""
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap {overlap} must be in [0, {max_tokens})")
    spans = [match.span() for match in _TOKEN.finditer(text)]
    chunks = []
    for start in range(0, len(spans), max_tokens - overlap):
        window = spans[start : start + max_tokens]
        chunks.append(text[window[0][0] : window[-1][1]])
        if start + max_tokens >= len(spans):
            break
    return chunks


def words(text: str) -> list[str]:
    """The terms BM25 matches on: lower-cased runs of letters and digits."""
    return [word.lower() for word in _WORD.findall(text)]


def bm25(query: str, documents: Sequence[str]) -> list[float]:
    """Each document's BM25 score for `query`, normalised to 0..1."""
    bags = [Counter(words(document)) for document in documents]
    if not bags:
        return []
    lengths = [sum(bag.values()) for bag in bags]
    average = sum(lengths) / len(bags) or 1.0
    idf = {term: _idf(term, bags) for term in set(words(query))}
    ceiling = (K1 + 1) * sum(idf.values())
    if ceiling == 0:
        return [0.0] * len(bags)
    return [
        sum(weight * _saturation(bag[term], length / average) for term, weight in idf.items())
        / ceiling
        for bag, length in zip(bags, lengths, strict=True)
    ]


def _idf(term: str, bags: Sequence[Counter[str]]) -> float:
    having = sum(1 for bag in bags if term in bag)
    return math.log(1 + (len(bags) - having + 0.5) / (having + 0.5))


def _saturation(frequency: int, relative_length: float) -> float:
    """BM25's term-frequency factor; below K1 + 1 whatever the frequency."""
    return frequency * (K1 + 1) / (frequency + K1 * (1 - B + B * relative_length))


def matches(condition: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether attributes pass a `ComparisonFilter` or `CompoundFilter`. A missing attribute
    fails every comparison; values of different types are never equal, nor ordered."""
    kind = condition["type"]
    if kind in ("and", "or"):
        results = (matches(inner, attributes) for inner in condition["filters"])
        return all(results) if kind == "and" else any(results)
    key = condition["key"]
    if key not in attributes:
        return False
    return _compare(kind, attributes[key], condition["value"])


def _compare(kind: str, actual: Any, expected: Any) -> bool:
    if kind in ("eq", "ne"):
        return _equal(actual, expected) == (kind == "eq")
    if kind in ("in", "nin"):
        return any(_equal(actual, value) for value in expected) == (kind == "in")
    ordered = _kind(actual) == _kind(expected) and _kind(actual) in ("number", "string")
    return ordered and _ORDERINGS[kind](actual, expected)


def _equal(actual: Any, expected: Any) -> bool:
    return _kind(actual) == _kind(expected) and bool(actual == expected)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "other"
