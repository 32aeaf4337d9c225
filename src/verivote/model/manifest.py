"""The election manifest: districts, seats, candidates with codes and factions, stations.

A manifest is written by the election authority in JSON or YAML and published as the first
entry of the bulletin board. The hash of its canonical form, `base_hash`, enters every proof
of the election (DESIGN.md, "Cryptography"; `verivote.crypto.hashing.election_base_hash`),
so a proof made for one election never verifies in another. Each district is one contest: a
block vote for its seats (`majlis-2024`).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from verivote.model.canonical import canonical_json

IDENT = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Identifiers of districts, stations and factions: no spaces, safe in file names and URLs."""

MINORITIES = (
    "zoroastrian",
    "jewish",
    "assyrian-chaldean",
    "armenian-north",
    "armenian-south",
)
"""The five religious-minority seats of the Majlis, each a district of its own."""

MIXNET_ABOVE = 30
"""A district with more candidates than this is counted on the `mixnet` path by default
(issue 16, item 1: "the default is `mixnet` above a candidate count you choose from measured
costs"); `District.mode` overrides it.

Measured per-ballot costs (ristretto255, one core of the 2-core development machine,
districts of 5 seats; `tests/test_written.py::test_costs_behind_mixnet_above` measures
them again and prints them with `pytest -s`):

- homomorphic ballot, checked once: 5.6 ms for 10 candidates, 12.3 ms for 30, 35.9 ms for 100,
  i.e. about 2.3 ms + 0.34 ms per candidate (a 0/1 proof each); 27 KB of JSON at 30
  candidates, 82 KB at 100; Tehran's 3,545 candidates: 1.6 s and 2.78 MB (issue 16);
- written ballot, checked once: 0.08 ms (1 element, up to ~17 codes of 4 digits), 0.15 ms
  (2 elements, Tehran's 30 of 3,545), 0.55–0.77 KB, whatever the number of candidates;
- but a written ballot then costs each mixer 0.42 ms per element to shuffle and prove and
  every checker 0.50 ms per element per shuffle, and each guardian of the quorum 0.09 ms to
  decrypt with a proof (0.15 ms to check it). With 5 mixers and 3 guardians, every proof
  checked once: about 5.3 ms per 1-element ballot; checked by every party that must (each
  mixer the shuffles before it, each of 5 guardians and the verifier all 5): about 23 ms.
  A homomorphic ballot is checked at cast, by each guardian and by the verifier (7 times
  with 5 guardians): 16 ms + 2.4 ms per candidate.

So on cost alone the written path wins from about 3 (every party checking) to 10 (one check
of each proof) candidates. The default keeps the homomorphic path up to 30 anyway, where its
ballot costs 2–2.5× the mix path's, because it never decrypts a single ballot (the pattern
attack on published decoded ballots, README "Privacy", does not exist there) and needs no
quorum of mix servers to be up after the polls close; above 30 its cost grows by 0.34 ms per
candidate per check without bound (Tehran: 1.6 s a check), while the written path's does not.
"""

Mode = Literal["homomorphic", "mixnet"]
"""How a district's ballots are encrypted and counted: `homomorphic`, one ciphertext and one
0/1 proof per candidate, added up (`verivote.crypto.ballot`); `mixnet`, the codes as written,
mixed by the factions and decrypted ballot by ballot (`verivote.crypto.written`, issue 16)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Faction(_Strict):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)


class Candidate(_Strict):
    """A candidate as printed on the ballot: the code voters may write instead of the name."""

    code: str = Field(pattern=r"^[0-9]{1,8}$")
    name: str = Field(min_length=1)
    faction: str | None = None


class District(_Strict):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    seats: int = Field(ge=1, le=100)
    province: str | None = None
    minority: Literal[MINORITIES] | None = None  # type: ignore[valid-type]
    candidates: list[Candidate] = Field(min_length=1)
    mode: Mode | None = None
    """None: by the default rule, `mixnet` iff more than MIXNET_ABOVE candidates."""

    @cached_property
    def longest_code(self) -> int:
        """The digits of the district's longest candidate code (a written ballot's width)."""
        return max(len(c.code) for c in self.candidates)

    @property
    def counted_by(self) -> Mode:
        """The effective mode: `mode` if the manifest sets it, else the default rule."""
        if self.mode is not None:
            return self.mode
        return "mixnet" if len(self.candidates) > MIXNET_ABOVE else "homomorphic"

    @model_validator(mode="after")
    def _distinct_candidates(self) -> District:
        seen_codes: set[str] = set()
        seen_names: set[str] = set()
        for c in self.candidates:
            if c.code in seen_codes:
                raise ValueError(f"candidate code {c.code} appears twice in district {self.id}")
            if c.name in seen_names:
                raise ValueError(f"candidate {c.name!r} appears twice in district {self.id}")
            seen_codes.add(c.code)
            seen_names.add(c.name)
        return self


class Station(_Strict):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    district: str


class Polling(_Strict):
    """Polling day's rules (issue 15). Absent from a manifest, every default holds.

    - `roll`: voters check in against a roll. Then a station admits one ballot per check-in,
      every station's closing statement publishes its check-ins, and the verifier fails a
      station whose statement lacks them.
    - `batch_ballots`, `batch_minutes`: a station's accepted ballots wait in a batch that
      closes after `batch_ballots` ballots or `batch_minutes` minutes, whichever comes first,
      and go onto the board in a random order inside the batch (secrecy against a watched
      queue and a dump of the database).
    - `ends`: when polling day ends (with its time zone); station tokens expire then.
    - `result_forms`: each station publishes its signed paper result form after its close
      (issue 18; `verivote.model.result_form`), and the verifier fails a closed station
      without one.
    - `turnout`: turnout is provable (issue 19; README, "Provable turnout"): the roll is
      committed as pseudonyms before polling day, each station publishes the pseudonyms of the
      voters it checked in, and the verifier's `turnout` check holds them to each other. Needs
      `roll`.
    """

    roll: bool = False
    batch_ballots: int = Field(default=20, ge=2, le=10_000)
    batch_minutes: int = Field(default=15, ge=1, le=24 * 60)
    ends: datetime | None = None
    result_forms: bool = False
    turnout: bool = False

    @model_validator(mode="after")
    def _aware(self) -> Polling:
        if self.ends is not None and self.ends.utcoffset() is None:
            raise ValueError("polling.ends needs its time zone, as in 2024-03-01T24:00+03:30")
        if self.turnout and not self.roll:
            raise ValueError("polling.turnout needs a voter roll (polling.roll)")
        return self


class Mixing(_Strict):
    """Who mixes the written ballots of the `mixnet` districts (issue 16, item 2).

    - `mixers`: faction ids, in mixing order; empty (the default) means every faction of the
      manifest, in the manifest's order.
    - `quorum`: how many distinct mixers must have shuffled a district before its mix can be
      closed; 0 (the default) means every mixer.
    """

    mixers: list[str] = Field(default_factory=list)
    quorum: int = Field(default=0, ge=0)


class PreviousRound(_Strict):
    """The first round a runoff (round 2) follows from, named by id and base hash."""

    election_id: str = Field(pattern=IDENT)
    base_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(_Strict):
    """A whole election. `group` is the cryptographic group of its keys and ballots. A round-2
    manifest (`round` 2) names its first round and holds only the districts with a runoff:
    their empty seats and their runoff fields."""

    election_id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    date: date
    round: Literal[1, 2] = 1
    previous_round: PreviousRound | None = None
    rule_set: Literal["majlis-2024"] = "majlis-2024"
    threshold: str = "1/5"
    group: Literal["ristretto255", "eg4096"] = "ristretto255"
    factions: list[Faction] = Field(default_factory=list)
    districts: list[District] = Field(min_length=1)
    stations: list[Station] = Field(default_factory=list)
    polling: Polling = Field(default_factory=Polling)
    mixing: Mixing = Field(default_factory=Mixing)

    @model_validator(mode="after")
    def _references(self) -> Manifest:
        if (self.round == 2) != (self.previous_round is not None):
            raise ValueError("a round-2 manifest names its previous_round, and only it does")
        _unique("faction", [f.id for f in self.factions])
        _unique("district", [d.id for d in self.districts])
        _unique("station", [s.id for s in self.stations])
        factions = {f.id for f in self.factions}
        districts = {d.id for d in self.districts}
        for d in self.districts:
            for c in d.candidates:
                if c.faction is not None and c.faction not in factions:
                    raise ValueError(
                        f"candidate {c.code} of district {d.id} names faction {c.faction!r}, "
                        "which is not in factions"
                    )
        for s in self.stations:
            if s.district not in districts:
                raise ValueError(
                    f"station {s.id} names district {s.district!r}, which does not exist"
                )
        self._check_mixing(factions)
        return self

    def _check_mixing(self, factions: set[str]) -> None:
        _unique("mixer", self.mixing.mixers)
        for m in self.mixing.mixers:
            if m not in factions:
                raise ValueError(f"mixer {m!r} is not a faction of the manifest")
        mixers = self.mixers()
        if self.mixing.quorum > len(mixers):
            raise ValueError(
                f"mixing.quorum is {self.mixing.quorum} but there are only {len(mixers)} mixers"
            )
        mixed = [d.id for d in self.districts if d.counted_by == "mixnet"]
        if mixed and not mixers:
            raise ValueError(
                f"district {mixed[0]} is counted by mixnet but the manifest has no mixers: "
                "list factions (every faction mixes by default) or set mixing.mixers"
            )

    def mixers(self) -> list[str]:
        """The mixers in mixing order: `mixing.mixers`, or every faction in manifest order."""
        return list(self.mixing.mixers) or [f.id for f in self.factions]

    def mix_quorum(self) -> int:
        """How many distinct mixers must shuffle each mixnet district: `mixing.quorum`, or
        every mixer when it is 0."""
        return self.mixing.quorum or len(self.mixers())

    def mixnet_districts(self) -> list[District]:
        """The districts counted by mixnet, in manifest order."""
        return [d for d in self.districts if d.counted_by == "mixnet"]

    def district(self, district_id: str) -> District:
        for d in self.districts:
            if d.id == district_id:
                return d
        raise KeyError(district_id)

    def station(self, station_id: str) -> Station:
        for s in self.stations:
            if s.id == station_id:
                return s
        raise KeyError(station_id)

    def canonical(self) -> bytes:
        """The canonical JSON of the manifest (what the board publishes and the hash covers)."""
        doc = self.model_dump(mode="json")
        if self.polling == Polling():
            # A manifest of before issue 15, or one that keeps every default, hashes as it
            # always did.
            del doc["polling"]
        elif not self.polling.result_forms:
            del doc["polling"]["result_forms"]  # likewise for a manifest of before issue 18
        if "polling" in doc and not self.polling.turnout:
            del doc["polling"]["turnout"]  # likewise for a manifest of before issue 19
        if self.mixing == Mixing():
            del doc["mixing"]  # likewise for a manifest of before issue 16
        for district in doc["districts"]:
            if district["mode"] is None:
                del district["mode"]
        return canonical_json({"type": "manifest", "manifest": doc})


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{what} id {i!r} appears twice")
        seen.add(i)


class ManifestError(ValueError):
    """A manifest that cannot be read; the message points at the bad field."""


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_manifest(data: Any, source: str = "manifest") -> Manifest:
    """Validate already-parsed JSON/YAML data as a manifest."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        message = re.sub(r"^Value error, ", "", first["msg"])
        raise ManifestError(f"{source}: {_location(first['loc'])}: {message}{more}") from None


def load_manifest(path: Path) -> Manifest:
    """Read a manifest from a .json, .yaml or .yml file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"no such manifest file: {path}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path} is not UTF-8 text") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ManifestError(f"{path} is not valid YAML{where}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
    return parse_manifest(data, str(path))
