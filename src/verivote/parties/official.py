"""A polling station's officials as a program of their own (issue 18, item 1): the station
head, and each faction's observer at the count.

Each keeps their Ed25519 signing keys in their own folder (`KEYS_FILE`, mode 0600), which the
authority never sees: it publishes only the verifier keys (`form-signers`). An official signs
a result form only when it equals their own copy, field by field: the station head the second
official's entry of the form (double entry), an observer the count they wrote down at the table.
The first difference is shown (`Mismatch`, every differing field named) and nothing is signed:
a mismatch is never resolved by the program.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from verivote.board.note import generate_signer, signature_line, verifier_from_signer
from verivote.crypto.keyfile import read_private, write_private
from verivote.model.result_form import (
    FormError,
    ResultForm,
    double_entry,
    form_text,
    head_name,
    observer_name,
)

KEYS_FILE = "official-keys.json"
"""An official's signing keys in their folder: {key name: signer key}, mode 0600."""


class OfficialKeys:
    """An official's signing keys in their own folder: a station head's key for each of their
    stations (`head/<station>`), or a faction observer's key (`observer/<faction>`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / KEYS_FILE

    def create(self, names: Sequence[str]) -> dict[str, str]:
        """Make a key for each of `names` (refused if the folder holds keys already); returns
        {name: verifier key}, what the authority publishes."""
        if self.path.exists():
            raise FormError(f"{self.folder} already holds an official's keys")
        if not names:
            raise FormError("name at least one station or faction")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        signers = {name: generate_signer(name)[0] for name in names}
        write_private(self.path, json.dumps(signers, indent=2))
        return {name: verifier_from_signer(key) for name, key in signers.items()}

    def load(self) -> dict[str, str]:
        """{key name: signer key}."""
        if not self.path.is_file():
            raise FormError(f"no official's keys in {self.folder} (run `verivote official keys`)")
        try:
            doc = json.loads(read_private(self.path))
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
            raise FormError(f"{self.path} is not a file of an official's keys")
        return {str(k): v for k, v in doc.items()}


def sign_forms(
    keys: Mapping[str, str], forms: Sequence[ResultForm], own: Sequence[ResultForm]
) -> dict[str, list[str]]:
    """{station: signature lines} of every form these keys may sign: a station head's key its
    station's form, a faction observer's key a form that lists the faction as present. Every
    form to be signed must equal the official's own copy in `own`; the first that differs
    raises Mismatch and nothing is signed."""
    mine = {f.station: f for f in own}
    mine_to_sign = [f for f in forms if _names(f) & set(keys)]
    for form in mine_to_sign:
        if form.station not in mine:
            raise FormError(f"{form.station}: no own copy of this station's form to compare")
        double_entry(form, mine[form.station])
    out: dict[str, list[str]] = {}
    for form in mine_to_sign:
        text = form_text(form)
        out[form.station] = [
            signature_line(text, keys[n]) for n in sorted(_names(form) & set(keys))
        ]
    return out


def _names(form: ResultForm) -> set[str]:
    """The key names that sign `form`."""
    return {head_name(form.station), *(observer_name(f) for f in form.observers)}


def read_forms(path: Path) -> list[ResultForm]:
    """A JSON list of forms (as `ResultForm.model_dump`), each validated."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormError(f"{path}: cannot read a JSON list of forms ({exc})") from None
    if not isinstance(doc, list):
        raise FormError(f"{path}: not a JSON list of forms")
    out = []
    for n, item in enumerate(doc):
        try:
            out.append(ResultForm.model_validate(item))
        except ValueError as exc:
            raise FormError(f"{path}: form {n}: {str(exc).splitlines()[0]}") from None
    return out
