"""`verify_electionguard_record`: every check of an ElectionGuard 2.0 record, in the order of
`verivote.verify.report.ELECTIONGUARD_CHECKS`, as one `Report`.

Each check uses the values as published upstream (H_P, H_E, K) rather than recomputed ones,
so a wrong value fails the check that recomputes it, and the checks below it still say
whether the rest agrees with what was published. A file that cannot be read fails the checks
that need it, and an element outside the group fails the check it belongs to; only a folder
that is not an ElectionGuard record at all is a `RecordError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from verivote.crypto.groups.eg4096 import P
from verivote.interop.electionguard.ballots import BallotOutcome, SelectionKey, Setup
from verivote.interop.electionguard.check_ballots import check_ballots, check_codes
from verivote.interop.electionguard.check_decryption import (
    DecryptedFile,
    Public,
    check_challenged,
    check_decryption,
)
from verivote.interop.electionguard.check_election import (
    check_guardians,
    check_joint_key,
    check_parameters,
)
from verivote.interop.electionguard.check_tally import check_tally
from verivote.interop.electionguard.encoding import Doc, Elements, FormatError
from verivote.interop.electionguard.pool import Progress, check_ballot_files
from verivote.interop.electionguard.proofs import KeyPowers
from verivote.interop.electionguard.record import (
    CAST,
    CHALLENGED_BALLOTS,
    CONFIG,
    CONSTANTS,
    ENCRYPTED_BALLOTS,
    ENCRYPTED_TALLY,
    INITIALIZED,
    MANIFEST,
    TALLY,
    EncryptedTally,
    Manifest,
    parse_config,
    parse_constants,
    parse_decrypted,
    parse_encrypted_tally,
    parse_initialized,
    parse_manifest,
    read_json,
)
from verivote.verify.loader import RecordError
from verivote.verify.report import Report

T = TypeVar("T")

TOP_FILES = (CONSTANTS, CONFIG, MANIFEST, INITIALIZED, ENCRYPTED_TALLY, TALLY)


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A file's parsed value and the places of its elements outside the order-q subgroup."""

    value: T
    invalid: list[str]


def _load(path: Path, parse: Callable[[Doc, Elements], T]) -> Loaded[T] | str:
    """The file parsed, or why it cannot be (the failure to report)."""
    elements = Elements()
    try:
        value = parse(read_json(path), elements)
    except FormatError as exc:
        message = str(exc)
        return message if message.startswith(path.name) else f"{path.name}: {message}"
    return Loaded(value, elements.invalid())


def _load_plain(path: Path, parse: Callable[[Doc], T]) -> T | str:
    """A file without group elements, parsed, or why it cannot be."""
    loaded = _load(path, lambda doc, _elements: parse(doc))
    return loaded if isinstance(loaded, str) else loaded.value


def _split(loaded: Loaded[T] | str) -> tuple[T | str, list[str]]:
    return (loaded, []) if isinstance(loaded, str) else (loaded.value, loaded.invalid)


def _files(folder: Path) -> list[Path]:
    """The JSON files in `folder` and below it (encrypted ballots: a folder per device)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.json") if p.is_file())


def _manifest(root: Path) -> tuple[bytes | str, Manifest | str]:
    """manifest.json's bytes (what H_M hashes) and its parsed contests (or why not)."""
    path = root / MANIFEST
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = f"{MANIFEST}: cannot be read ({exc.strerror or exc})"
        return reason, reason
    return raw, _load_plain(path, parse_manifest)


def verify_electionguard_record(
    directory: str | os.PathLike[str],
    jobs: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify the ElectionGuard 2.0 record in `directory` (egk's JSON layout: `record`).

    `jobs`: processes checking the ballots (default: every core). `progress(done, total)`:
    ballots checked so far. The report's `timing` gives the selections checked, the range
    proofs computed (of selections and contests), the jobs, the wall time of the ballot
    checks (reading, validating, every proof and hash of every ballot) and that time per
    selection. Raises RecordError if `directory` is not a folder holding any of an
    ElectionGuard record's files."""
    root = Path(directory)
    if not root.is_dir():
        raise RecordError(f"{root}: not a folder")
    if not any((root / name).exists() for name in (*TOP_FILES, ENCRYPTED_BALLOTS)):
        raise RecordError(f"{root}: none of an ElectionGuard record's files ({CONFIG}, …)")

    constants = _load_plain(root / CONSTANTS, parse_constants)
    config_read = _load_plain(root / CONFIG, parse_config)
    config = None if isinstance(config_read, str) else config_read
    manifest_bytes, manifest_read = _manifest(root)
    manifest = None if isinstance(manifest_read, str) else manifest_read
    initialized, init_invalid = _split(_load(root / INITIALIZED, parse_initialized))

    parameters = check_parameters(constants, config_read, manifest_bytes)
    if isinstance(manifest_read, str) and not isinstance(manifest_bytes, str):
        parameters.fail(None, manifest_read)  # its bytes hash, but it is no manifest
    checks = [
        parameters.close(),
        check_guardians(config, initialized, init_invalid),
        check_joint_key(config, initialized, init_invalid),
    ]

    public: Public | None = None
    blocked: str | None = None
    if isinstance(initialized, str):
        blocked = f"{INITIALIZED} cannot be read"
    elif "joint_public_key" in init_invalid:
        blocked = "the joint public key is not in the group"
    elif manifest is None:
        blocked = f"{MANIFEST} cannot be read"
    else:
        public = Public(initialized.h_e, KeyPowers(initialized.key), manifest)

    paths = _files(root / ENCRYPTED_BALLOTS)
    outcomes: list[BallotOutcome] = []
    sums: dict[SelectionKey, tuple[Any, Any]] = {}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(paths) or 1))
    started = time.perf_counter()
    if public is not None:
        setup = Setup(public.h_e, public.key, public.manifest, root)
        for chunk in check_ballot_files(setup, paths, workers, progress):
            outcomes.extend(chunk.ballots)
            for key, (a, b) in chunk.sums.items():
                x, y = sums.get(key, (1, 1))
                sums[key] = (x * a % P, y * b % P)
    elapsed = time.perf_counter() - started
    checks.append(check_ballots(outcomes, blocked))
    checks.append(check_codes(outcomes, config, public.h_e if public else None, blocked))

    ballots = [o.ballot for o in outcomes if o.ballot is not None]
    encrypted_tally, tally_invalid = _split(_load(root / ENCRYPTED_TALLY, parse_encrypted_tally))
    if public is None:
        checks.append(check_tally(f"not checked: {blocked}", [], None, None, {}, [], []))
    else:
        checks.append(
            check_tally(
                encrypted_tally,
                tally_invalid,
                manifest,
                public.h_e,
                sums,
                [b.ballot_id for b in ballots if b.state == CAST],
                [o.file for o in outcomes if o.ballot is None],
            )
        )
    tally, invalid = _split(_load(root / TALLY, parse_decrypted))
    usable_tally = encrypted_tally if isinstance(encrypted_tally, EncryptedTally) else None
    cast = sum(b.state == CAST for b in ballots)
    checks.append(check_decryption(public, tally, invalid, usable_tally, cast))
    files: list[DecryptedFile] = []
    for path in _files(root / CHALLENGED_BALLOTS):
        value, bad = _split(_load(path, parse_decrypted))
        files.append((f"{CHALLENGED_BALLOTS}/{path.name}", value, bad))
    checks.append(check_challenged(public, files, ballots))

    selections = sum(o.selections for o in outcomes)
    timing = {
        "selections": selections,
        "range_proofs": sum(o.range_proofs for o in outcomes),
        "jobs": workers,
        "ballot_seconds": round(elapsed, 3),
        "ms_per_selection": round(1000 * elapsed / selections, 3) if selections else 0.0,
    }
    rate = len(outcomes) / elapsed if outcomes and elapsed > 0 else 0.0
    return Report(tuple(checks), rate, timing)
