"""The public lot that breaks ties (issue 2, "Lot"; DESIGN.md, "lawfulness").

The draw orders the tied candidates by

    SHA-256(seed ‖ u32be(len(contest)) ‖ contest ‖ u32be(len(candidate)) ‖ candidate)

ascending, where `seed` is the raw seed bytes and `contest`, `candidate` are UTF-8. The length
prefixes make the encoding injective (contest "ab" + candidate "c" never collides with "a" +
"bc"). The first candidate of the draw is favoured: elected, admitted to a runoff, or kept when
someone must be eliminated. The seed is public: for an election it is derived from the bulletin
board's root at the tally and the guardians' decrypted lot (`verivote.rules.districts.lot_seed`),
for `verivote tabulate` it is `--seed`. Anyone can re-run a draw from the recorded seed,
contest and names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from verivote.model.result import Lot

DEFAULT_SEED = bytes(32)
"""The seed `tabulate` uses without `--seed`: all zero, so a draw is still reproducible."""


def parse_seed(text: str) -> bytes:
    """Decode a hex seed; raises ValueError with a clear message for bad input."""
    cleaned = text.strip().lower().removeprefix("0x")
    if not cleaned:
        raise ValueError("the lot seed is empty; give it as hex digits")
    try:
        seed = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"the lot seed {text!r} is not hexadecimal") from None
    return seed


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def lot_digest(seed: bytes, contest: str, candidate: str) -> bytes:
    """The SHA-256 that places `candidate` in a draw (see the module docstring)."""
    c = contest.encode("utf-8")
    n = candidate.encode("utf-8")
    return hashlib.sha256(seed + _u32(len(c)) + c + _u32(len(n)) + n).digest()


def draw(seed: bytes, contest: str, tied: Sequence[str], purpose: str, round_no: int) -> Lot:
    """Draw lots among `tied`; the returned `Lot.order` puts the favoured first."""
    digests = {name: lot_digest(seed, contest, name) for name in tied}
    order = sorted(tied, key=lambda name: digests[name])
    return Lot(
        contest=contest,
        seed=seed.hex(),
        purpose=purpose,
        round=round_no,
        tied=list(tied),
        order=order,
        digests={name: digests[name].hex() for name in tied},
    )
