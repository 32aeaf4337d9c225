"""The election's database: the public bulletin board, the casting and polls state and the
tally's partial products (DESIGN.md, "Persistence and services").

    engine = make_engine()      # VERIVOTE_DATABASE_URL, else sqlite:///verivote.db
    migrate(engine)             # alembic upgrade head, from the migrations in this package
    store = Store(engine)
"""

from verivote.store.db import (
    ReplayError,
    StoreError,
    UnknownElection,
    database_url,
    make_engine,
    migrate,
)
from verivote.store.repo import (
    Admitted,
    BallotRecord,
    Batching,
    ElectionRecord,
    NoCheckin,
    Pending,
    PollsClosed,
    Store,
)

__all__ = [
    "Admitted",
    "BallotRecord",
    "Batching",
    "ElectionRecord",
    "NoCheckin",
    "Pending",
    "PollsClosed",
    "ReplayError",
    "Store",
    "StoreError",
    "UnknownElection",
    "database_url",
    "make_engine",
    "migrate",
]
