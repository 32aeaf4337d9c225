"""The authority's key for the steps that seal district logs (README, "National scale"): the
tally seals every district log before it reads its cutoff, with the authority's signer key."""

from __future__ import annotations

from pathlib import Path

from verivote.election.district_logs import AUTHORITY_FILE, authority_signer
from verivote.election.publishing import create_signers
from verivote.election.service import ElectionContext


def authority_key(keys: Path, ctx: ElectionContext) -> str:
    """The authority's signer key in `keys`, made there first if the folder has none (a test
    whose keys folder holds only the guardians' shares)."""
    if not (keys / AUTHORITY_FILE).is_file():
        create_signers(keys, ctx.manifest)
    return authority_signer(keys)
