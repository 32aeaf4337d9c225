"""Group commit for casts (issue 15, the cast API's speed): the ballots whose proofs were
checked at about the same time are admitted in one transaction (`verivote.web.batcher`).

Admitting one ballot alone is a handful of statements and a commit; `record_casts` admits many
in one transaction with a few statements whatever their number, each ballot answered as
`record_cast` would answer it alone, decided under its station's locks.
"""

from __future__ import annotations

from collections.abc import Callable

from verivote.election.service import ElectionContext, PreparedBallot, Receipt, record_casts
from verivote.store import Store
from verivote.web.batcher import GroupCommit

MAX_BATCH = 32
"""Ballots per transaction at most: a Tehran ballot's entry is about 3 MB, so a batch stays
under 100 MB; past a few dozen ballots a larger batch saves nothing more per ballot."""
LINGER = 0.05
"""Seconds a batch waits at most for the ballots still being checked (`GroupCommit`): at
100 ballots/s, two or three of them; a ballot's answer comes at most that much later."""


class CastBatcher:
    """Checked ballots admitted in batches, by one writer that waits for the ballots being
    checked (`checking()`, their number) up to LINGER seconds: with one writer, the ballots
    that arrive while it writes make the next batch, instead of each finding a writer free."""

    def __init__(
        self, store: Store, ctx: ElectionContext, checking: Callable[[], int] | None = None
    ) -> None:
        self._group: GroupCommit[PreparedBallot, Receipt] = GroupCommit(
            lambda items: record_casts(store, ctx, items), 1, MAX_BATCH, checking, LINGER
        )

    async def record(self, prepared: PreparedBallot) -> Receipt:
        """The receipt of one ballot; raises what `record_cast` raises."""
        return await self._group.submit(prepared)

    async def close(self) -> None:
        await self._group.close()
