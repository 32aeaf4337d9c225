"""An election record turned into a record with a log per district (issue 17) by this module
rather than by the store (whose exports have district logs natively): `split_board` with the
authority's key, the national checkpoint signed by the authority and cosigned by every witness
registered in the keys folder (each from its own folder, as `verify_fixtures.resign` does)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.verify_fixtures import board_lines
from verivote.board.checkpoint import Checkpoint, format_checkpoint
from verivote.board.merkle import MerkleLog
from verivote.board.note import parse_verifier, sign, verifier_from_signer
from verivote.board.record import read_record, write_record
from verivote.board.split import Logs, split_board
from verivote.election.publishing import registered_witnesses


def signers(keys: Path) -> tuple[str, list[str]]:
    """The authority's signer key and every registered witness's."""
    authority = (keys / "authority.key").read_text(encoding="utf-8").strip()
    folders = [Path(unquote(urlsplit(w.url).path)) for w in registered_witnesses(keys)]
    witnesses = [(f / "witness.key").read_text(encoding="utf-8").strip() for f in folders]
    return authority, witnesses


def national_note(national: list[bytes], keys: Path, size: int | None = None) -> str:
    """The national checkpoint of the first `size` entries (default all), cosigned."""
    authority, witnesses = signers(keys)
    log = MerkleLog()
    for entry in national[: len(national) if size is None else size]:
        log.append_entry(entry)
    origin = parse_verifier(verifier_from_signer(authority)).name
    text = format_checkpoint(Checkpoint(origin, log.size, log.root()))
    return sign(text, [authority, *witnesses])


def split_record(record: Path, keys: Path, cuts: Iterable[int] = ()) -> Logs:
    """The logs of the record in `record` read as one sequence (`board_lines`: its single
    log, or its logs merged), split again with a seal at each change of log."""
    authority, _ = signers(keys)
    return split_board(board_lines(record), authority, cuts)


def write_logs(logs: Logs, record: Path, keys: Path, destination: Path) -> Path:
    """Write `logs` as a record at `destination`, with the keys of the single-log `record`."""
    write_record(
        destination,
        logs.national,
        national_note(logs.national, keys),
        read_record(record).verifier_keys,
        {d: (entries, logs.checkpoints[d]) for d, entries in logs.districts.items()},
    )
    return destination


def to_districts(record: Path, keys: Path, destination: Path, cuts: Iterable[int] = ()) -> Path:
    """The single-log record in `record` as a record with district logs at `destination`."""
    return write_logs(split_record(record, keys, cuts), record, keys, destination)
