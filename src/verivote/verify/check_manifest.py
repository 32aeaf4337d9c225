"""Check `manifest`: entry 0 is the election's manifest and every entry is of this election."""

from __future__ import annotations

from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.model.manifest import parse_manifest
from verivote.verify.context import Election
from verivote.verify.loader import Board
from verivote.verify.report import Check


def check_manifest(board: Board) -> tuple[Check, Election | None]:
    """Entry 0 is a manifest entry that parses; the base hash is H("manifest", entry 0's
    bytes); no later entry is another manifest; every entry with an "election" field names
    that base hash. Returns the election for the later checks (None if entry 0 is unusable).

    The "election" of the entries the main process does not hold parsed (issue 17) is
    checked where they are: the ballots have none (the `ballots` check requires their exact
    fields), the mix's large entries are the `mix` check's."""
    check = Check("manifest")
    doc = board.docs[0] if board.docs else None
    if doc is None or doc.get("type") != "manifest":
        check.fail(0, "entry 0 is not a manifest entry")
        return check.close(), None
    check.items = 1
    try:
        manifest = parse_manifest(doc.get("manifest"), "entry 0")
    except ValueError as exc:
        check.fail(0, str(exc))
        return check.close(), None
    base_hash = election_base_hash(board.entries[0])
    election = Election(manifest, base_hash, get_group(manifest.group))
    for index in board.indices("manifest")[1:]:
        check.fail(index, "a second manifest entry")
    expected = base_hash.hex()
    for index, entry in board.kept():
        if "election" not in entry or index == 0:
            continue
        check.items += 1
        if entry["election"] != expected:
            check.fail(index, f"a {entry['type']} entry of another election: {entry['election']!r}")
    return check.close(), election
