"""The independent verifier (DESIGN.md, "lawfulness": an independent verifier re-runs the law
on the published record).

`verify_record(directory)` checks an election record (`verivote.board.record`) on its own and
returns a `Report` of named checks, each with a stable id:

    board          canonical entries, Merkle root = checkpoint root, every signature; --since;
                   with district logs (issue 17): every seal, every district entry sealed,
                   every entry in its own log
    manifest       entry 0 is the manifest; base hash; every entry is of this election
    ceremony       the key ceremony transcript verifies (a runoff may reuse round 1's)
    ballots        every cast ballot's proofs, bound to its station and nonce; its tracking
                   code is the hash of the ballot; no ballot and no nonce twice
    challenged     every challenged ballot's proofs and opening; right id; never cast
    tally          the encrypted tally is the product of the cast ballots below its cutoff
    decryption     k valid partial decryptions per district combine to the published counts
    count          the counting law on the decrypted tally, lots seeded by the board, gives
                   the published seats
    runoff         round 2 holds exactly round 1's runoff fields (needs --previous)
    participation  ballots only while a station's polls are open, as many as published

A record with a log per district is read as one sequence (`verivote.board.order`); a failure
names its entry by position in it (`entry`) and by log and index in that log (`log`, `index`).

It depends on `verivote.crypto`, `verivote.rules`, `verivote.board` and `verivote.model` only,
never on the code that ran the election (`election`, `store`, `cli`, `sim`): a test enforces it.
"""

from verivote.verify.loader import RecordError
from verivote.verify.report import CHECKS, Check, Failure, Report
from verivote.verify.verifier import verify_record

__all__ = ["CHECKS", "Check", "Failure", "RecordError", "Report", "verify_record"]
