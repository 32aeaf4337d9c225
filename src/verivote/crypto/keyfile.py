"""A guardian's secret key share on disk: one JSON file, readable by its owner only (0600).

The file is created with mode 0600 from the start (never written first and restricted after),
is not overwritten unless asked, and is refused on reading if anyone but the owner may read
it, as ssh does with private keys. The secret is never logged or shown in a repr.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from verivote.crypto.ceremony import KeyShare
from verivote.crypto.groups import get_group

FORMAT = "verivote-key-share/1"


def write_private(path: Path, text: str, overwrite: bool = False) -> None:
    """Write `text` to a file created with mode 0600 (never widened, then narrowed) and
    synced to disk; an existing file is refused unless `overwrite`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def read_private(path: Path) -> str:
    """The text of a secret file; ValueError if anyone but its owner may read it."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"{path} may be read by others (mode {stat.S_IMODE(mode):04o}); "
            "a secret key file must be mode 0600 (chmod 600)"
        )
    return path.read_text(encoding="utf-8")


def write_key_share(path: Path, share: KeyShare, overwrite: bool = False) -> None:
    """Write `share` to `path` with mode 0600."""
    group = get_group(share.group)
    doc = {
        "format": FORMAT,
        "group": share.group,
        "guardian": share.guardian,
        "guardians": share.guardians,
        "quorum": share.quorum,
        "base_hash": share.base_hash,
        "joint_key": share.joint_key,
        "secret": group.encode_scalar(share.secret).hex(),
    }
    write_private(path, json.dumps(doc, indent=2) + "\n", overwrite)


def read_key_share(path: Path) -> KeyShare:
    """Read a key share file; ValueError with a clear message if it is unsafe or malformed."""
    text = read_private(path)
    try:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ValueError(f"{path} is not a verivote key share ({FORMAT})")
        group = get_group(doc["group"])
        return KeyShare(
            group=doc["group"],
            guardian=int(doc["guardian"]),
            secret=group.decode_scalar(bytes.fromhex(doc["secret"])),
            guardians=int(doc["guardians"]),
            quorum=int(doc["quorum"]),
            base_hash=str(doc["base_hash"]),
            joint_key=str(doc["joint_key"]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a valid key share file ({exc})") from None
