"""`verivote.cli.launch`: a party's command (guardian, witness, mixer, a station's device) runs
from its own command group without importing the authority's commands, and says the same as
the whole command line does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from verivote.cli.launch import PARTIES


@pytest.mark.parametrize("party", sorted(PARTIES))
def test_a_partys_command_imports_only_its_own_group(party: str) -> None:
    probe = (
        "import sys\n"
        "from verivote.cli.launch import run\n"
        f"status = run([{party!r}, '--help'])\n"
        "print(status, 'verivote.cli.app' in sys.modules, 'verivote.web.app' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "0 False False"


@pytest.mark.parametrize("party", sorted(PARTIES))
def test_a_partys_help_is_the_whole_command_lines(party: str) -> None:
    def helped(module: str) -> str:
        probe = f"from {module} import run\nrun([{party!r}, '--help'])\n"
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True,
            timeout=120, env={"COLUMNS": "100", "PATH": ""},
        )  # fmt: skip
        return done.stdout

    alone = helped("verivote.cli.launch")
    assert alone == helped("verivote.cli.app")
    assert f"verivote {party}" in alone
