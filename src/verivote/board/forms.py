"""Opening a station's signed result form (issue 18; the form is
`verivote.model.result_form`'s): the note must be signed by the station head's key, and by the
observer key of every faction the form lists as present, and by no other key. Both the board's
publisher (`verivote.polling.forms`) and the verifier (`verivote.verify.check_forms`) open forms
with this one function, so the board accepts no form the verifier would reject.
"""

from __future__ import annotations

from collections.abc import Mapping

from verivote.board.note import parse_note, parse_verifier
from verivote.model.result_form import (
    FormError,
    ResultForm,
    head_name,
    observer_name,
    parse_form_text,
)


def key_problem(key: object, name: str) -> str | None:
    """Why `key` cannot be the published verifier key named `name` (None if it can): not a
    valid Ed25519 verifier key, or one of another name (a head's key cannot sign as an
    observer). The publisher of `form-signers` and the verifier both ask this."""
    try:
        verifier = parse_verifier(key)  # type: ignore[arg-type]
    except ValueError as exc:
        return f"the key of {name}: {exc}"
    if verifier.name != name:
        return f"the key of {name} is named {verifier.name}"
    return None


def open_form(
    note: str, station: str, heads: Mapping[str, str], observers: Mapping[str, str]
) -> ResultForm:
    """The form of `station`'s signed note, every signature checked against the published
    keys (`heads`: station -> verifier key; `observers`: faction -> verifier key)."""
    try:
        text, signatures = parse_note(note)
    except ValueError as exc:
        raise FormError(f"not a signed note: {exc}") from None
    form = parse_form_text(text)
    if form.station != station:
        raise FormError(f"the form is {form.station}'s, published as {station}'s")
    if station not in heads:
        raise FormError(f"no head key published for {station}")
    wanted = {head_name(station): heads[station]}
    for faction in form.observers:
        if faction not in observers:
            raise FormError(f"no observer key published for faction {faction}")
        wanted[observer_name(faction)] = observers[faction]
    signed: set[str] = set()
    raw = text.encode("utf-8")
    for signature in signatures:
        key = wanted.get(signature.name)
        if key is None:
            raise FormError(f"signed by {signature.name}, who is not a signer of this form")
        verifier = parse_verifier(key)
        if verifier.key_id != signature.key_id or not verifier.verify(raw, signature.signature):
            raise FormError(f"the signature of {signature.name} does not verify")
        signed.add(signature.name)
    missing = sorted(set(wanted) - signed)
    if missing:
        raise FormError(f"not signed by {', '.join(missing)}")
    return form
