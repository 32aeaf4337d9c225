"""The `verivote` entry point (`python -m verivote` and the installed command).

A guardian's or a witness's command (issue 14: each party is a program, and `verivote demo`
starts each as a process of its own, many times) imports only its own command group, not
every command of the authority: `verivote witness` starts in about a fifth of the time,
`verivote guardian` in about half, `verivote mixer` and `verivote device` (a station's device)
in about two thirds (imports measured 0.24, 0.77, 1.00 and 1.36 s against 1.80 s for all).
Every other command goes to `verivote.cli.app`.
"""

from __future__ import annotations

import importlib
import sys

PARTIES = {
    "guardian": ("verivote.cli.guardian", "guardian_app"),
    "witness": ("verivote.cli.witness", "witness_app"),
    "mixer": ("verivote.cli.mixer", "mixer_app"),
    "device": ("verivote.cli.station", "device_app"),
    "official": ("verivote.cli.official", "official_app"),
}
"""The command groups of the parties other than the authority: (module, typer app)."""


def run(argv: list[str]) -> int:
    """Run the command line `argv` (without the program name); the exit status."""
    if argv and argv[0] in PARTIES:
        import typer

        from verivote.cli.errors import run_app

        module, name = PARTIES[argv[0]]
        app = typer.Typer(
            name="verivote",
            no_args_is_help=True,
            add_completion=False,
            pretty_exceptions_enable=False,
        )
        app.add_typer(getattr(importlib.import_module(module), name), name=argv[0])
        return run_app(app, argv)
    from verivote.cli.app import run as run_all

    return run_all(argv)


def main() -> None:
    """Console entry point of `verivote`."""
    sys.exit(run(sys.argv[1:]))
