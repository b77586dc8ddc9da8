"""Spotting a misspelt key: `plaftorms` -> `platforms`, `Body` -> `body`, `huaweiAndroid`."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(key: str, known: Iterable[str]) -> str | None:
    """The known key that `key` most likely misspells (case, separators, 1-2 edits), or None.

    One edit is allowed for names up to 6 letters, two for longer ones, so short
    unrelated names (`sms` vs `ios`, `ttl` vs `title`) are not taken for typos.
    """
    folded = _fold(key)
    best: tuple[int, str] | None = None
    for candidate in sorted(known):
        target = _fold(candidate)
        allowed = 1 if max(len(folded), len(target)) <= 6 else 2
        distance = edit_distance(folded, target, allowed)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def _fold(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a transposition counts 1), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        row = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, before[j - 2] + 1)
            row.append(value)
        before, previous = previous, row
    return min(previous[-1], limit + 1)
