"""Step 8, `publish`: the public record directory and a human-readable results report.

The record is the board up to its latest signed checkpoint (`log/`, see
`verivote.board.record`). `results.md` beside it is derived from the record's `count` entry
and says so; it adds nothing that is not in `log/entries.jsonl`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verivote.election.count import find_entry
from verivote.election.publishing import export_record, make_checkpoint
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.manifest import Manifest
from verivote.store import Store


def render_report(manifest: Manifest, count: dict[str, Any]) -> str:
    """Markdown: per district the seats, the elected, the runoff field and the votes."""
    lines = [
        f"# {manifest.name} — results (round {manifest.round})",
        "",
        "Derived from the `count` entry of `log/entries.jsonl`; the record is the authority.",
        f"Rule set `{count['rule_set']}`; lot seed `{count['seed']}` (the guardians' lot and "
        f"the board up to the tally, {count['checkpoint_size']} entries).",
        "",
    ]
    for district in manifest.districts:
        result = count["districts"][district.id]
        names = {c.code: f"{c.code} {c.name}" for c in district.candidates}
        tally = result["rounds"][0]["tally"]
        lines += [
            f"## {district.name} ({district.seats} seat{'s' if district.seats > 1 else ''})",
            "",
            f"Valid ballots {result['valid']:,}, void {result['void']:,}.",
            "",
            "| candidate | votes | |",
            "|---|---:|---|",
        ]
        for code in sorted(tally, key=lambda c: -int(tally[c])):
            status = (
                "elected"
                if code in result["elected"]
                else ("runoff" if code in (result.get("runoff") or []) else "")
            )
            lines.append(f"| {names[code]} | {int(tally[code]):,} | {status} |")
        for lot in result.get("lots", []):
            lines.append(
                f"\nLot ({lot['purpose']}) among {', '.join(names[c] for c in lot['tied'])}: "
                f"{', '.join(names[c] for c in lot['order'])}."
            )
        lines.append("")
    return "\n".join(lines)


def publish(store: Store, ctx: ElectionContext, keys_dir: Path, directory: Path) -> int:
    """Sign the board as it is, write the record and `results.md`; returns the record's size."""
    latest = store.latest_checkpoint(ctx.election_id)
    if (
        latest is None
        or latest[0] < store.entry_count(ctx.election_id)
        or store.unsealed(ctx.election_id)
    ):
        make_checkpoint(store, ctx, keys_dir)
    size = export_record(store, ctx, keys_dir, directory)
    count = find_entry(store, ctx.election_id, "count")
    if count is None:
        raise ElectionError("nothing counted yet: run `verivote count` before publishing")
    (directory / "results.md").write_text(render_report(ctx.manifest, count), encoding="utf-8")
    return size
