"""The discrete logarithm of a decrypted tally: t from K^t, for t up to 10^8 and beyond.

Baby-step giant-step (Shanks): a table of K^j for j < m (the baby steps) and giant steps of
K^(−m). Tallies are small, so the table is built lazily and grows by doubling up to a memory
cap (default 2^20 entries, some 100 MB for ristretto255), and most lookups are answered by the
table alone. Tables are cached per process and base.
"""

from __future__ import annotations

from typing import Any

from verivote.crypto.group import Group

DEFAULT_BOUND = 10**8
MAX_TABLE = 1 << 20
_MIN_TABLE = 1 << 10


class DiscreteLogError(ValueError):
    """No t below the bound gives the element: the decryption or the bound is wrong."""


class _Table:
    def __init__(self, group: Group[Any], base: Any) -> None:
        self.group = group
        self.base = base
        self.steps: dict[bytes, int] = {group.encode(group.identity()): 0}
        self.top = group.identity()

    def grow(self, size: int) -> None:
        g = self.group
        enc = g.encode
        acc = self.top
        for j in range(len(self.steps), size):
            acc = g.mul(acc, self.base)
            self.steps[enc(acc)] = j
        self.top = acc


_TABLES: dict[tuple[str, bytes], _Table] = {}


def discrete_log(
    group: Group[Any],
    base: Any,
    element: Any,
    bound: int = DEFAULT_BOUND,
    max_table: int = MAX_TABLE,
) -> int:
    """The t in [0, bound) with base^t = element; DiscreteLogError if there is none."""
    key = (group.name, group.encode(base))
    table = _TABLES.get(key)
    if table is None:
        table = _new_table(group, base)
    target = group.encode(element)
    if target in table.steps:
        return table.steps[target]
    # Size the table near √bound (BSGS's balance point), within the memory cap.
    want = _MIN_TABLE
    while want * want < bound and want < max_table:
        want *= 2
    if len(table.steps) < want:
        table.grow(want)
        if target in table.steps:
            return table.steps[target]
    m = len(table.steps)
    stride = group.pow(base, -m)
    y = element
    for i in range(1, bound // m + 2):
        y = group.mul(y, stride)
        j = table.steps.get(group.encode(y))
        if j is not None and i * m + j < bound:
            return i * m + j
    raise DiscreteLogError(f"no discrete log below {bound:,}")


def _new_table(group: Group[Any], base: Any) -> _Table:
    table = _Table(group, base)
    table.grow(_MIN_TABLE)
    _TABLES[(group.name, group.encode(base))] = table
    return table
