"""Small helpers shared by the cryptography tests."""

from __future__ import annotations

from typing import Any

from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.group import Group
from verivote.crypto.groups import get_group


def keypair(
    group_name: str = "ristretto255", secret: int | None = None
) -> tuple[Group[Any], int, ElectionKey[Any]]:
    group = get_group(group_name)
    s = group.random_scalar() if secret is None else secret
    return group, s, ElectionKey(group, group.pow_g(s))
