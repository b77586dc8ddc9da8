"""Per-call options of the contract (strict mode, list cap), carried in a context variable.

The schema instances are built once at import; what changes from one call to the next
(`validate(..., strict=True, max_targets=500)`) is read from here by the fields that care.
A ContextVar (not marshmallow's `context`, gone in marshmallow 4) keeps threads and
asyncio tasks apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

#: §14: v2 list caps are NOT FOUND; v1.3 allows 1000 devices / users per request (SEEN [D6]).
DEFAULT_MAX_TARGETS = 1000


@dataclass(frozen=True, slots=True)
class ContractOptions:
    """`strict`: reject what the reference does not confirm; `max_targets`: cap per id list."""

    strict: bool = False
    max_targets: int = DEFAULT_MAX_TARGETS


LENIENT = ContractOptions()
STRICT = ContractOptions(strict=True)

_CURRENT: ContextVar[ContractOptions] = ContextVar("notify_contract_options", default=LENIENT)


def current() -> ContractOptions:
    """The options of the check running in this thread / task."""
    return _CURRENT.get()


def options_for(strict: bool, max_targets: int) -> ContractOptions:
    """Reuse the two common instances; build others on demand."""
    if max_targets == DEFAULT_MAX_TARGETS:
        return STRICT if strict else LENIENT
    if isinstance(max_targets, bool) or not isinstance(max_targets, int) or max_targets < 1:
        raise ValueError(f"max_targets must be a positive integer, got {max_targets!r}")
    return ContractOptions(strict=strict, max_targets=max_targets)


@contextmanager
def using(options: ContractOptions) -> Iterator[ContractOptions]:
    """Run a block of checks under `options`."""
    token = _CURRENT.set(options)
    try:
        yield options
    finally:
        _CURRENT.reset(token)
