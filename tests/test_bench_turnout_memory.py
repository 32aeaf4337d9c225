"""`verivote bench turnout-memory` (issue 19): on a small synthetic roll, the child process
reads it as the `turnout` check does, finds nothing wrong, and the JSON line holds the figures
and their projection (no timing or memory figure is asserted: the machines are shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verivote.cli.app import run


def test_the_json_line_holds_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(["bench", "turnout-memory", "--voters", "3000", "--dir", str(tmp_path), "--json"]) == 0
    )
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["voters"] == 3000
    assert figures["districts"] == 208
    assert figures["failures"] == 0
    assert 0 < figures["checkins"] < 3000
    assert {"work_mib", "bytes_per_voter", "projected_national_mib"} <= set(figures)
    assert len((tmp_path / "roll-3000.txt").read_text().splitlines()) == 3000
