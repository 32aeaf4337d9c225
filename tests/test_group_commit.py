"""`GroupCommit` (web/batcher.py): items that arrive together are written in one batch, each
answered as it would be alone; with `coming()`, a writer waits (at most its linger) for the
items announced as on their way, and writes a lone item at once. No timing is asserted
beyond "within the linger" and "without it"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.web.batcher import GroupCommit

Write = Callable[[list[int]], Sequence[int | Exception]]


def _recording() -> tuple[list[list[int]], Write]:
    batches: list[list[int]] = []

    def write(items: list[int]) -> Sequence[int | Exception]:
        batches.append(list(items))
        return [ValueError(str(i)) if i < 0 else 2 * i for i in items]

    return batches, write


def test_items_announced_as_coming_are_written_with_the_first() -> None:
    async def main() -> list[list[int]]:
        batches, write = _recording()
        coming = [3]
        group: GroupCommit[int, int] = GroupCommit(write, 1, 32, lambda: coming[0], 5.0)

        async def later(item: int, delay: float) -> int:
            await asyncio.sleep(delay)
            coming[0] -= 1
            return await group.submit(item)

        first = asyncio.create_task(group.submit(1))
        answers = await asyncio.gather(first, later(2, 0.05), later(3, 0.1), later(4, 0.15))
        assert list(answers) == [2, 4, 6, 8]
        await group.close()
        return batches

    assert asyncio.run(main()) == [[1, 2, 3, 4]]


def test_a_lone_item_is_written_at_once_and_a_late_one_after_the_linger() -> None:
    async def main() -> tuple[list[list[int]], float]:
        batches, write = _recording()
        coming = [0]
        group: GroupCommit[int, int] = GroupCommit(write, 1, 32, lambda: coming[0], 30.0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await group.submit(5) == 10  # nothing coming: no wait for the linger (30 s)
        alone = loop.time() - t0
        coming[0] = 1  # announced but never arrives: the writer gives up after the linger
        group._linger = 0.05
        assert await group.submit(6) == 12
        await group.close()
        return batches, alone

    batches, alone = asyncio.run(main())
    assert batches == [[5], [6]]
    assert alone < 30.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-3, 50), min_size=1, max_size=80), st.integers(1, 7))
def test_every_item_gets_its_own_answer_whatever_the_batches(items: list[int], most: int) -> None:
    async def main() -> tuple[list[list[int]], list[int | str]]:
        batches, write = _recording()
        group: GroupCommit[int, int] = GroupCommit(write, 1, most, lambda: 1, 0.001)

        async def one(i: int) -> int | str:
            try:
                return await group.submit(i)
            except ValueError as exc:
                return f"refused {exc}"

        answers = await asyncio.gather(*(one(i) for i in items))
        await group.close()
        return batches, list(answers)

    batches, answers = asyncio.run(main())
    assert answers == [f"refused {i}" if i < 0 else 2 * i for i in items]
    assert sorted(i for b in batches for i in b) == sorted(items)
    assert all(1 <= len(b) <= most for b in batches)
