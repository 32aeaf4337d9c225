"""Check `eg-tally`: the encrypted tally is the product of the CAST ballots (spec 2.0.0 §3.5,
Verification 8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verivote.interop.electionguard.ballots import SelectionKey
from verivote.interop.electionguard.record import ENCRYPTED_TALLY, EncryptedTally, Manifest
from verivote.verify.report import Check

TALLY = "eg-tally"


def manifest_keys(manifest: Manifest) -> list[SelectionKey]:
    """Every (contest, option) of the manifest, in manifest order."""
    return [(c.contest_id, o.selection_id) for c in manifest.contests for o in c.options]


def check_tally(
    tally: EncryptedTally | str,
    invalid: list[str],
    manifest: Manifest | None,
    h_e: bytes | None,
    sums: Mapping[SelectionKey, tuple[Any, Any]],
    cast_ids: Iterable[str],
    unreadable: Iterable[str],
) -> Check:
    """8.A: for every option of the manifest, once, (A, B) = (∏ α, ∏ β) over the CAST
    ballots (`sums`; (1, 1) for an option no cast ballot holds), and nothing else. Also: the
    tally is of this election (H_E), its elements lie in the group, its list of cast ballots
    (egk's `cast_ballot_ids`) is exactly the CAST ballots, and every ballot file could be
    read (`unreadable`: else whether the tally should count it is unknown)."""
    check = Check(TALLY)
    for name in unreadable:
        check.fail(None, f"{name}: cannot be read, so whether the tally counts it is unknown")
    if isinstance(tally, str):
        check.fail(None, tally)
        return check.close()
    for place in invalid:
        check.fail(None, f"{ENCRYPTED_TALLY}: {place}: not in the order-q subgroup")
    if h_e is not None and tally.election_id != h_e:
        check.fail(None, f"{ENCRYPTED_TALLY}: election_id is not this election's H_E")
    cast = sorted(cast_ids)
    if tally.cast_ballot_ids is not None:
        listed = sorted(tally.cast_ballot_ids)
        if listed != cast:
            missing = sorted(set(cast) - set(listed))
            extra = sorted(set(listed) - set(cast))
            check.fail(
                None,
                f"{ENCRYPTED_TALLY}: cast_ballot_ids are not the CAST ballots "
                f"(missing {missing[:5]}, not cast {extra[:5]}, {len(listed)} listed, "
                f"{len(cast)} cast)",
            )
    if manifest is None:
        check.fail(None, "not checked against the ballots: manifest.json cannot be read")
        return check.close()
    _check_order(tally, manifest, check)
    published: dict[SelectionKey, tuple[Any, Any]] = {}
    for contest in tally.contests:
        for s in contest.selections:
            key = (contest.contest_id, s.selection_id)
            if key in published:
                check.fail(None, f"{ENCRYPTED_TALLY}: {key[0]}/{key[1]} appears twice")
            published[key] = (s.vote.pad, s.vote.data)
    wanted = manifest_keys(manifest)
    for key in sorted(set(published) - set(wanted)):
        check.fail(None, f"{ENCRYPTED_TALLY}: {key[0]}/{key[1]} is not an option of the manifest")
    for key in wanted:
        check.items += 1
        if key not in published:
            check.fail(None, f"{ENCRYPTED_TALLY}: {key[0]}/{key[1]} is missing")
            continue
        if published[key] != sums.get(key, (1, 1)):
            check.fail(
                None,
                f"{ENCRYPTED_TALLY}: {key[0]}/{key[1]}: (A, B) is not the product of the "
                f"{len(cast)} cast ballots (8.A)",
            )
    return check.close()


def _check_order(tally: EncryptedTally, manifest: Manifest, check: Check) -> None:
    """Each contest's and selection's `sequence_order`, where the tally gives one, is the
    manifest's (the tally names its contests and options by id and index alike)."""
    for contest in tally.contests:
        m = manifest.contest(contest.contest_id)
        if m is None:
            continue  # its options are named as not the manifest's below
        if contest.index is not None and contest.index != m.index:
            check.fail(
                None,
                f"{ENCRYPTED_TALLY}: contest {contest.contest_id}: sequence_order "
                f"{contest.index}, the manifest says {m.index}",
            )
        options = {o.selection_id: o.index for o in m.options}
        for s in contest.selections:
            if (
                s.index is not None
                and s.selection_id in options
                and s.index != options[s.selection_id]
            ):
                check.fail(
                    None,
                    f"{ENCRYPTED_TALLY}: {contest.contest_id}/{s.selection_id}: sequence_order "
                    f"{s.index}, the manifest says {options[s.selection_id]}",
                )
