"""The error a command raises for anything the user can fix: printed as one line, exit 1;
and `run_app`, which runs a command line so that every error is one line, never a traceback.

DESIGN.md, "Interfaces": errors are one clear line on stderr and a non-zero exit. Usage
mistakes (unknown option, bad value) exit 2; bad input data or a failed step exit 1; an
unexpected internal error exits 70 with one line (set VERIVOTE_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click


class UserError(Exception):
    """Bad input or a failed step, with a message that says what to do."""


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"verivote: error: {message}\n")
    return code


def run_app(app: Any, argv: list[str] | None = None) -> int:
    """Run the typer `app` on `argv` and return the exit status (never raises)."""
    from verivote.model.ballot_csv import BallotFormatError

    try:
        result = app(args=argv, prog_name="verivote", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # typer prints the help itself before raising
        return 0 if exc.ctx is None else 2
    except click.UsageError as exc:
        return _fail(" ".join(exc.format_message().split()), 2)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return _fail("interrupted", 130)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except click.ClickException as exc:
        return _fail(" ".join(exc.format_message().split()), exc.exit_code)
    except (UserError, BallotFormatError) as exc:
        return _fail(str(exc), 1)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}", 1)
    except Exception as exc:
        if os.environ.get("VERIVOTE_DEBUG"):
            raise
        return _fail(
            f"internal error ({type(exc).__name__}: {exc}); set VERIVOTE_DEBUG=1 to see where", 70
        )
    return result if isinstance(result, int) else 0
