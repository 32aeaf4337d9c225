"""A database error names the statement but never its parameters: they are national codes and
tokens, and an error's text ends up in logs (issue 15)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.store_fixtures import BACKENDS, backend_database
from verivote.store import make_engine

SECRET = "0012345678"


@pytest.mark.parametrize("backend", BACKENDS)
def test_failing_statement_text_holds_no_parameter(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with backend_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            caplog.set_level(logging.INFO, logger="sqlalchemy")
            engine.echo = True
            with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
                # No such table: the database's own message then holds no value either (a
                # duplicate key's would, on PostgreSQL, whatever the engine hides).
                conn.execute(text("INSERT INTO no_such_table VALUES (:code)"), {"code": SECRET})
        finally:
            engine.dispose()
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text
