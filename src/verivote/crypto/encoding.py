"""Written ballots as group elements: the encoding of issue 16, item 1 ("Written ballots").

A voter on the `mixnet` path writes a list of candidate codes (strings of 1–8 decimal digits,
`verivote.model.manifest.Candidate.code`), in order, possibly with repeats or codes of no
candidate: the law deals with those after decryption, so the encoding carries the list exactly
as written. This module turns such a list into a fixed number of group elements (each then
encrypted as one ElGamal ciphertext) and back. It is injective and exactly decodable, and
every function is pure and deterministic: the same list and width always give the same
elements.

**Serialisation: one integer.** Let D be the length of the longest code written (D = 1 for
the empty list) and N_D = 10 + 10² + … + 10^D the number of digit strings of length 1..D. A
code c is numbered idx(c) = (10 + … + 10^(len c − 1)) + int(c) ∈ [0, N_D): leading zeros are
kept, since "007" and "7" have different lengths and so different numbers. The list
c₁ … cₙ is the number L = Σ (idx(cᵢ) + 1) · N_D^(n − i), its bijective base-N_D numeral
(0 for the empty list; no length header is needed, because bijective numerals have no zero
digit to pad with), and the ballot integer is X = 8·L + (D − 1). This is within 3 bits of the
information-theoretic minimum for lists of codes of up to D digits: a Tehran ballot, 30 codes
of up to 4 digits, is at most 407 bits (30 · log₂ 11,110 ≈ 403.3). The encoding is unique
because D must be the actual longest length: a decoded integer whose D is not is refused.

**Chunks.** X is cut into `width` chunks of `chunk_bits(group)` bits, least significant
first, the high chunks zero, and each chunk is embedded into one element:

- **ristretto255** (libsodium, through the same `rbcl` binding as
  `verivote.crypto.groups.ristretto`; the only primitive used is
  `crypto_core_ristretto255_is_valid_point`, the check behind `Ristretto255.decode`). The
  32-byte little-endian string s = chunk · 2⁹ + counter · 2 (chunk < 2^245, counter < 2^8) is
  tried for counter = 0, 1, 2, … and the first s that is a valid canonical ristretto255
  encoding is the element (try-and-increment). Bit 0 of s is 0 (a canonical encoding is
  "non-negative") and s < 2^254 < 2^255 − 19, so every candidate is a reduced field element.
  **Payload: 245 bits (30.6 bytes) per element.** About one candidate in four is a valid
  encoding (measured 0.25 over 20,000 random chunks, see the tests), so **4 tries are
  expected** (each ~5 µs); 256 counters leave a chunk without an encoding with probability
  (3/4)^256 < 2^−106, which raises rather than loop. Decoding reads chunk and counter from
  the element's bytes and checks that the counter is the first valid one (re-embedding the
  chunk and comparing), so any other element, e.g. a random one, is refused, never misread.
- **eg4096** is *not* a safe-prime group: p − 1 = 2·q·r′ with q = 2^256 − 189 and r′ a
  3,840-bit prime (`verivote.crypto.groups.eg4096`). Its elements are the order-q subgroup,
  a fraction 2^−3840 of Z_p^*, so neither the safe-prime map m ↦ ±m (whose image is the
  quadratic residues, of order q·r′: `Group.decode` refuses such values, and an ElGamal
  ciphertext m·h^k would publish the r′-part of m, since (m·h^k)^q = m^q) nor
  try-and-increment (2^3840 tries expected) can embed arbitrary bytes in it. This is the
  conclusion of Verificatum's `ModPGroup` as well, whose "subgroup encoding" needs a cofactor
  of at most 10 bits and otherwise falls back to encoding a couple of bytes. The standard map
  for such a subgroup, the one ElectionGuard uses, is exponential: chunk ↦ g^chunk, decoded by
  a discrete logarithm over a small range. Here **24 bits (3 bytes) per element**, decoded by
  baby-step giant-step against a table of 2^16 baby steps (built once per process, 0.3 s,
  ~8 MB) and at most 2^8 giant steps (one 4096-bit multiplication each, ≈ 1.1 ms at worst),
  then one fixed-base exponentiation to confirm. So the issue's "1 element on eg4096" cannot be
  met with the ElectionGuard parameters: a Tehran ballot (30 codes of up to 4 digits) is 17
  elements there, against 2 on ristretto255.

**Widths.** `elements_needed(group, codes_max, digits_max)` is the width that holds every
list of at most `codes_max` codes of at most `digits_max` digits; every ballot of a district
is padded to that width, so the rows a mix server shuffles all have the same shape. On
ristretto255, 30 codes of up to 4 digits need 2 elements; 30 codes of up to 8 digits need 4,
and no encoding does it in 3 (30 · log₂ 111,111,110 ≈ 802 bits > 3 · 253), so a district's
width is computed from its longest candidate code, and a ballot whose written codes are
longer than the width allows is refused at encoding (`BallotTooLong`), as a paper ballot with
four boxes per code has no room for a fifth digit.

**Speed** (2-core development machine, one core, `tests/test_encoding.py::test_speed_is_reported`):
a Tehran ballot (30 four-digit codes) encodes in 0.08 ms and decodes in 0.07 ms on
ristretto255 (2 elements); on eg4096 (17 elements) 0.15 ms and 11 ms, the decode being the
baby-step giant-step search, once the process's tables are built.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any, TypeVar

import gmpy2
import rbcl

from verivote.crypto.group import Group
from verivote.crypto.groups.eg4096 import P as _P

E = TypeVar("E")

MAX_DIGITS = 8
"""The longest candidate code (`Candidate.code`, ^[0-9]{1,8}$)."""

_CODE = re.compile(r"[0-9]{1,8}")
_D_BITS = 3  # D − 1 ∈ [0, 8) in the low 3 bits of the ballot integer


class EncodingError(ValueError):
    """Elements that are not the encoding of any written ballot (issue 16, item 3: a row that
    does not decode is handled by the law as a spoilt paper ballot, so it must be told apart
    from every other failure)."""


class BallotTooLong(ValueError):
    """A written ballot that does not fit in the district's width (refused at encoding)."""


# --- the ballot integer ---------------------------------------------------------------------------
def _strings_up_to(d: int) -> int:
    """N_d = 10 + 10² + … + 10^d, the number of digit strings of length 1..d."""
    return sum(10**k for k in range(1, d + 1))


def _check_code(code: object, i: int) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError(
            f"code {i + 1} of the ballot is {code!r}: a candidate code is 1 to "
            f"{MAX_DIGITS} decimal digits (0-9)"
        )
    return code


def ballot_integer(codes: Sequence[str]) -> int:
    """The integer X = 8·L + (D − 1) of the module docstring for a list of codes."""
    checked = [_check_code(c, i) for i, c in enumerate(codes)]
    d = max((len(c) for c in checked), default=1)
    n_d = _strings_up_to(d)
    value = 0
    for c in checked:
        value = value * n_d + _strings_up_to(len(c) - 1) + int(c) + 1
    return (value << _D_BITS) | (d - 1)


def codes_of_integer(x: int) -> list[str]:
    """The inverse of `ballot_integer`; EncodingError for an integer it never produces."""
    d = (x & ((1 << _D_BITS) - 1)) + 1
    value = x >> _D_BITS
    n_d = _strings_up_to(d)
    offsets = [_strings_up_to(k) for k in range(d + 1)]  # offsets[k]: strings shorter than k+1
    codes: list[str] = []
    while value:
        digit = (value - 1) % n_d  # idx(c) ∈ [0, N_d)
        value = (value - 1) // n_d
        length = next(k for k in range(1, d + 1) if digit < offsets[k])
        codes.append(str(digit - offsets[length - 1]).zfill(length))
    codes.reverse()
    if max((len(c) for c in codes), default=1) != d:
        raise EncodingError(
            f"the decoded ballot's header says its longest code has {d} digits, "
            "but no code that long follows: not an encoded ballot"
        )
    return codes


# --- ristretto255: try-and-increment --------------------------------------------------------------
_R_CHUNK_BITS = 245
_R_COUNTER_BITS = 8
_R_SHIFT = 1 + _R_COUNTER_BITS
_valid = rbcl.crypto_core_ristretto255_is_valid_point


def _ristretto_embed(chunk: int) -> bytes:
    base = chunk << _R_SHIFT
    for counter in range(1 << _R_COUNTER_BITS):
        s = (base | (counter << 1)).to_bytes(32, "little")
        if _valid(s):
            return s
    raise BallotTooLong(  # probability below 2^-106 per chunk; never seen
        f"chunk {chunk:#x} has no ristretto255 encoding within {1 << _R_COUNTER_BITS} tries"
    )


def _ristretto_extract(element: bytes) -> int:
    s = int.from_bytes(element, "little")
    chunk = s >> _R_SHIFT
    if chunk >> _R_CHUNK_BITS or _ristretto_embed(chunk) != element:
        raise EncodingError("a ristretto255 element that is not the encoding of a ballot chunk")
    return chunk


def ristretto_tries(chunk: int) -> int:
    """How many candidates try-and-increment tests for `chunk` (1 + the counter it finds)."""
    return ((int.from_bytes(_ristretto_embed(chunk), "little") >> 1) & 0xFF) + 1


# --- eg4096: exponential map, decoded by baby-step giant-step -------------------------------------
_EG_CHUNK_BITS = 24
_EG_BABY_BITS = 16
_EG_KEY_MASK = (1 << 64) - 1
_eg_lock = threading.Lock()
_eg_table: tuple[dict[int, int], Any] | None = None


def _eg_baby_steps(group: Group[Any]) -> tuple[dict[int, int], Any]:
    """{low 64 bits of g^j: j} for j < 2^16, and g^(−2^16), built once per process."""
    global _eg_table
    table = _eg_table
    if table is None:
        with _eg_lock:
            if _eg_table is None:
                p: Any = _P
                g = group.generator()
                baby: dict[int, int] = {}
                x: Any = gmpy2.mpz(1)
                for j in range(1 << _EG_BABY_BITS):
                    baby.setdefault(int(x) & _EG_KEY_MASK, j)
                    x = x * g % p
                if len(baby) != 1 << _EG_BABY_BITS:  # a 64-bit key collision: never seen
                    raise RuntimeError("eg4096 baby-step table has colliding keys")
                _eg_table = (baby, gmpy2.invert(x, p))
            table = _eg_table
    return table


def _eg_embed(group: Group[Any], chunk: int) -> Any:
    return group.pow_g(chunk)


def _eg_extract(group: Group[Any], element: Any) -> int:
    baby, giant = _eg_baby_steps(group)
    p: Any = _P
    y: Any = gmpy2.mpz(element)
    for i in range(1 << (_EG_CHUNK_BITS - _EG_BABY_BITS)):
        j = baby.get(int(y) & _EG_KEY_MASK)
        if j is not None:
            chunk = (i << _EG_BABY_BITS) + j
            if group.pow_g(chunk) == element:
                return chunk
        y = y * giant % p
    raise EncodingError("an eg4096 element that is not g^m for a ballot chunk m < 2^24")


# --- the API --------------------------------------------------------------------------------------
def chunk_bits(group: Group[Any]) -> int:
    """Payload bits per element: 245 on ristretto255, 24 on eg4096 (module docstring)."""
    if group.name == "ristretto255":
        return _R_CHUNK_BITS
    if group.name == "eg4096":
        return _EG_CHUNK_BITS
    raise ValueError(f"no ballot encoding for group {group.name!r}")


def elements_needed(group: Group[Any], codes_max: int, digits_max: int = MAX_DIGITS) -> int:
    """The width (elements per ballot) that holds every list of at most `codes_max` codes of
    at most `digits_max` digits (issue 16, item 1: "A Tehran ballot is at most 2
    ciphertexts"; 30 codes of ≤ 4 digits give 2 on ristretto255)."""
    if codes_max < 0:
        raise ValueError(f"codes_max must be ≥ 0, got {codes_max}")
    if not 1 <= digits_max <= MAX_DIGITS:
        raise ValueError(f"digits_max must be 1 to {MAX_DIGITS}, got {digits_max}")
    n = _strings_up_to(digits_max)
    largest_list: int = sum(n**k for k in range(1, codes_max + 1))  # every digit = N: the maximum
    largest = (largest_list << _D_BITS) | (digits_max - 1)
    return max(1, -(-largest.bit_length() // chunk_bits(group)))


def encode_codes(group: Group[E], codes: Sequence[str], width: int) -> list[E]:
    """The `width` elements that carry the written ballot `codes` (issue 16, item 1).

    Deterministic and injective. Raises ValueError for a code that is not 1–8 decimal digits
    and BallotTooLong when the ballot needs more than `width` elements.
    """
    if isinstance(codes, str):
        raise ValueError("a ballot is a list of codes, not one string")
    if width < 1:
        raise ValueError(f"the width must be at least 1 element, got {width}")
    bits = chunk_bits(group)
    x = ballot_integer(codes)
    if x.bit_length() > bits * width:
        need = -(-x.bit_length() // bits)
        raise BallotTooLong(
            f"a ballot of {len(codes)} codes (longest {max(map(len, codes))} digits) needs "
            f"{need} {group.name} elements; the district's width is {width}"
        )
    mask = (1 << bits) - 1
    chunks = [(x >> (bits * i)) & mask for i in range(width)]
    if group.name == "ristretto255":
        return [group.decode(_ristretto_embed(c)) for c in chunks]
    return [_eg_embed(group, c) for c in chunks]


def decode_codes(group: Group[E], elements: Sequence[E]) -> list[str]:
    """The written ballot `elements` carry (issue 16, items 1 and 3).

    Raises EncodingError, and nothing else, when the elements are not `encode_codes` of any
    ballot at this width: whatever decodes re-encodes to exactly the same elements.
    """
    if not elements:
        raise EncodingError("an encoded ballot has at least one element")
    bits = chunk_bits(group)
    x = 0
    for i, e in enumerate(elements):
        if group.name == "ristretto255":
            chunk = _ristretto_extract(group.encode(e))
        else:
            chunk = _eg_extract(group, e)
        x |= chunk << (bits * i)
    return codes_of_integer(x)
