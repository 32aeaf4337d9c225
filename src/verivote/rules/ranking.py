"""Choosing the n highest of a tally, with ties at the boundary sent to a tie-break.

Shared by every plurality-style rule (Majlis, block vote, FPTP, two-round, runoff fields).
A tie is broken only where it decides something: candidates with equal votes that all fit
inside the n chosen are not drawn, they keep the order of the candidate list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from verivote.rules.tiebreak import History, Purpose, TieBreak


def highest(
    tally: Mapping[str, int],
    pool: Sequence[str],
    n: int,
    tiebreak: TieBreak,
    purpose: Purpose,
    round_no: int,
    history: History = (),
) -> list[str]:
    """The `n` candidates of `pool` with the most votes, highest first.

    When the n-th place is shared, `tiebreak` ranks the whole tied group and the places left
    go to its best. Fewer than `n` candidates in `pool` means all of them are returned.
    """
    if n <= 0:
        return []
    order = {name: i for i, name in enumerate(pool)}
    ranked = sorted(pool, key=lambda c: (-tally.get(c, 0), order[c]))
    if len(ranked) <= n:
        return ranked
    boundary = tally.get(ranked[n - 1], 0)
    above = [c for c in ranked if tally.get(c, 0) > boundary]
    tied = [c for c in ranked if tally.get(c, 0) == boundary]
    places = n - len(above)
    if places == len(tied):
        return above + tied
    if not history:
        history = [{c: Decimal(v) for c, v in tally.items()}]
    return above + tiebreak.rank(tied, purpose, round_no, history)[:places]
