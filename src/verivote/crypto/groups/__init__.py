"""The group backends by name: `ristretto255` (default) and `eg4096`."""

from __future__ import annotations

from functools import cache
from typing import Any

from verivote.crypto.group import Group

DEFAULT_GROUP = "ristretto255"
GROUP_NAMES = ("ristretto255", "eg4096")


def get_group(name: str = DEFAULT_GROUP) -> Group[Any]:
    """The group called `name`, created once per process."""
    return _make(name)


@cache
def _make(name: str) -> Group[Any]:
    if name == "ristretto255":
        from verivote.crypto.groups.ristretto import Ristretto255

        return Ristretto255()
    if name == "eg4096":
        from verivote.crypto.groups.eg4096 import EG4096

        return EG4096()
    raise ValueError(f"unknown group {name!r}; choose one of {', '.join(GROUP_NAMES)}")
