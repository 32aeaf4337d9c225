"""Small pieces shared by the NIST common data format modules.

Every NIST object is built as a plain JSON dict by a small function and carries the `@type`
the JSON schemas require ("ElectionResults.Candidate", "CVR.CVR", ...). The three formats
(SP 1500-100 v2, SP 1500-103, SP 1500-20) share a few element shapes, differing only in the
namespace prefix of `@type`, so the helpers here take that prefix.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from verivote import __version__

Doc = dict[str, Any]

ERR = "ElectionResults"
"""`@type` prefix of SP 1500-100 v2 (election results reporting)."""
CVR = "CVR"
"""`@type` prefix of SP 1500-103 (cast vote records)."""
BD = "BallotDefinition"
"""`@type` prefix of SP 1500-20 (ballot definition)."""

VENDOR_APPLICATION = f"verivote {__version__}"

# `OtherType` values of the ExternalIdentifier (results) and Code (CVR) elements that carry a
# verivote identifier, so that a reader gets back the ids the counting law works on rather
# than the NIST `@id`s, which must be unique across the whole report.
ELECTION_ID = "verivote-election-id"
BASE_HASH = "verivote-base-hash"
PREVIOUS_ROUND = "verivote-previous-round"
PREVIOUS_ROUND_BASE_HASH = "verivote-previous-round-base-hash"
RULE_SET = "verivote-rule-set"
DISTRICT_ID = "verivote-district-id"
MINORITY = "verivote-minority-seat"
STATION_ID = "verivote-station-id"
FACTION_ID = "verivote-faction-id"
CANDIDATE_CODE = "verivote-candidate-code"


class InteropError(ValueError):
    """Input that cannot be converted; the message says what is wrong and where."""


def timestamp(moment: datetime.datetime | None = None) -> str:
    """A `DateTimeWithZone` in UTC, to the second (the results schema's pattern allows no
    fractions of a second): `2024-03-01T18:00:00Z`."""
    when = moment or datetime.datetime.now(datetime.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def intl_text(prefix: str, content: str, language: str) -> Doc:
    """`InternationalizedText` with one `LanguageString` (SP 1500-100 / 1500-20)."""
    return {
        "@type": f"{prefix}.InternationalizedText",
        "Text": [{"@type": f"{prefix}.LanguageString", "Content": content, "Language": language}],
    }


def read_text(value: Any, language: str | None = None) -> str | None:
    """The content of an `InternationalizedText` (or a plain string): the string in
    `language` if there is one, else the first one."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return None
    strings = [s for s in value.get("Text") or [] if isinstance(s, Mapping)]
    if language is not None:
        for s in strings:
            if s.get("Language") == language and isinstance(s.get("Content"), str):
                return str(s["Content"])
    for s in strings:
        if isinstance(s.get("Content"), str):
            return str(s["Content"])
    return None


def external_id(prefix: str, other_type: str, value: str) -> Doc:
    """An `ExternalIdentifier` (results, ballot definition) of type `other`."""
    return {
        "@type": f"{prefix}.ExternalIdentifier",
        "Type": "other",
        "OtherType": other_type,
        "Value": value,
    }


def cvr_code(other_type: str, value: str) -> Doc:
    """A `CVR.Code` of type `other`: SP 1500-103's counterpart of ExternalIdentifier."""
    return {"@type": "CVR.Code", "Type": "other", "OtherType": other_type, "Value": value}


def find_identifier(
    obj: Mapping[str, Any], other_type: str, key: str = "ExternalIdentifier"
) -> str | None:
    """The value of the first identifier of `obj[key]` whose OtherType is `other_type`."""
    for ident in obj.get(key) or []:
        if (
            isinstance(ident, Mapping)
            and ident.get("OtherType") == other_type
            and isinstance(ident.get("Value"), str)
        ):
            return str(ident["Value"])
    return None


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, taken: Iterable[str] = ()) -> str:
    """A verivote identifier (manifest.IDENT: letters, digits, `.`, `_`, `-`; 64 at most)
    made from `text`, different from every identifier in `taken`.

    Text with no usable character (a name in Persian script, say) becomes `x-` and a short
    hash of it, so that distinct names still give distinct, stable identifiers."""
    base = _UNSAFE.sub("-", text).strip("-._")[:56].strip("-._")
    if not base:
        base = "x-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    used = set(taken)
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
