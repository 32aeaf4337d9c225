"""Ranked-choice counting as RCTab 2.0 does it: IRV, STV, bottoms-up and multi-pass IRV.

The rules are those of `testdata/rctab/README.md`, section "Counting rules"; each function
below names the paragraph it implements. The count reproduces RCTab's round-by-round results
exactly, so vote arithmetic is exact: every vote value is an integer number of units of
10^-d, where d is `decimal_places` (RCTab `decimalPlacesForVoteArithmetic`), and truncation
happens exactly where RCTab truncates. Decimals appear only in the returned `Result`.

A CSV row of `count` identical ballots always travels as one: the ballots share every mark, so
they share every decision and every surplus fraction. The count keeps, for each candidate, the
rows it currently holds, so a round re-reads only the rows of the candidates who just left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Final, Literal, cast, get_args

from verivote.model.ballots import Ballot, Overvote
from verivote.model.contest import Contest
from verivote.model.result import Lot, Result, Round
from verivote.rules.tiebreak import CandidateOrder, PreviousRounds, PublicLot, TieBreak

RcvMethod = Literal["irv", "stv", "bottoms-up", "bottoms-up-threshold", "multi-pass-irv"]
OvervoteRule = Literal["exhaust", "skip", "exhaust_if_multiple_continuing"]
DuplicateRule = Literal["skip", "exhaust"]
Quota = Literal["droop", "droop-fractional", "hare", "hare-fractional", "bottoms-up-percentage"]

RCV_METHODS: Final = get_args(RcvMethod)
OVERVOTE_RULES: Final = get_args(OvervoteRule)
DUPLICATE_RULES: Final = get_args(DuplicateRule)
QUOTAS: Final = get_args(Quota)

EXHAUSTED_KEY: Final = "exhausted"
"""Key of `Round.transfers[source]` for the votes that exhausted instead of moving."""
FINAL_SURPLUS_KEY: Final = "final round surplus"
"""Key of `Round.transfers[winner]` for the surplus set aside in STV's last round."""

# RCTab's winnerElectionMode for each method (contest.json "options.winner_election_mode").
_ELECTION_MODES: Final[dict[str, tuple[str, ...]]] = {
    "irv": ("singleWinnerMajority",),
    "stv": ("multiWinnerAllowMultipleWinnersPerRound", "multiWinnerAllowOnlyOneWinnerPerRound"),
    "bottoms-up": ("bottomsUp",),
    "bottoms-up-threshold": ("bottomsUpUsingPercentageThreshold",),
    "multi-pass-irv": ("multiPassIrv",),
}
_ONE_WINNER_MODE: Final = "multiWinnerAllowOnlyOneWinnerPerRound"
_SINGLE_SEAT: Final = ("irv",)
_SEATED: Final = ("stv", "bottoms-up", "multi-pass-irv")
_SINGLE_WINNER_PASSES: Final = ("irv", "multi-pass-irv")


@dataclass(frozen=True)
class RcvOptions:
    """The counting options of README "contest.json", checked once here.

    `threshold` is the quota name; `one_winner_per_round` is RCTab's winner election mode
    `multiWinnerAllowOnlyOneWinnerPerRound`. `seats` is ignored for `bottoms-up-threshold`,
    where the number of winners is not fixed. `max_skipped_ranks` None means unlimited.
    """

    method: RcvMethod
    seats: int
    candidates: tuple[str, ...]
    overvote: OvervoteRule = "exhaust"
    max_skipped_ranks: int | None = None
    duplicate_rankings: DuplicateRule = "skip"
    batch_elimination: bool = False
    continue_until_two: bool = False
    threshold: Quota = "droop"
    first_round_determines_threshold: bool = False
    one_winner_per_round: bool = False
    decimal_places: int = 4
    excluded: tuple[str, ...] = ()
    undeclared_write_in: str | None = None
    cutoff_elimination: bool = False
    bottoms_up_percentage: Decimal | None = None
    stop_after_round: int | None = None

    def __post_init__(self) -> None:
        # Accept lists from callers, but keep the frozen object hashable and immutable.
        if isinstance(self.candidates, str) or isinstance(self.excluded, str):
            raise ValueError("candidates and excluded must be sequences of names, not one string")
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "excluded", tuple(self.excluded))
        self._check_method()
        self._check_names()
        self._check_rules()

    def _check_method(self) -> None:
        m = self.method
        if m not in RCV_METHODS:
            raise ValueError(f"unknown ranked-choice method {m!r}; expected one of {RCV_METHODS}")
        if isinstance(self.seats, bool) or not isinstance(self.seats, int):
            raise ValueError(f"seats must be a whole number, got {self.seats!r}")
        if m in _SINGLE_SEAT and self.seats != 1:
            raise ValueError(f"method {m!r} fills exactly 1 seat, got seats={self.seats}")
        if m in _SEATED and self.seats < 1:
            raise ValueError(f"method {m!r} needs seats >= 1, got seats={self.seats}")
        if m == "bottoms-up-threshold":
            if self.seats < 0:
                raise ValueError(f"seats must not be negative, got {self.seats}")
            if self.bottoms_up_percentage is None:
                raise ValueError("method 'bottoms-up-threshold' needs bottoms_up_percentage")
            if not Decimal(0) < self.bottoms_up_percentage <= Decimal(100):
                raise ValueError(
                    "bottoms_up_percentage must be above 0 and at most 100, got "
                    f"{self.bottoms_up_percentage}"
                )
            if self.threshold != "bottoms-up-percentage":
                raise ValueError(
                    "method 'bottoms-up-threshold' uses threshold 'bottoms-up-percentage', "
                    f"got {self.threshold!r}"
                )
        elif self.threshold == "bottoms-up-percentage":
            raise ValueError(
                f"threshold 'bottoms-up-percentage' is only for 'bottoms-up-threshold', not {m!r}"
            )
        if self.cutoff_elimination and m != "bottoms-up-threshold":
            raise ValueError("cutoff_elimination applies only to method 'bottoms-up-threshold'")
        if self.continue_until_two and m not in _SINGLE_WINNER_PASSES:
            raise ValueError(
                f"continue_until_two applies only to 'irv' and 'multi-pass-irv', not {m!r}"
            )
        if self.one_winner_per_round and m != "stv":
            raise ValueError(f"one_winner_per_round applies only to 'stv', not {m!r}")

    def _check_names(self) -> None:
        if not self.candidates:
            raise ValueError("a ranked-choice count needs at least one candidate")
        seen: set[str] = set()
        for name in (*self.candidates, *self.excluded):
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"candidate names must be non-empty text, got {name!r}")
            if name in seen:
                raise ValueError(f"candidate {name!r} is listed twice (candidates + excluded)")
            seen.add(name)
        uwi = self.undeclared_write_in
        if uwi is not None and uwi not in self.candidates:
            raise ValueError(f"undeclared_write_in {uwi!r} must be one of the candidates")

    def _check_rules(self) -> None:
        if self.overvote not in OVERVOTE_RULES:
            raise ValueError(
                f"unknown overvote rule {self.overvote!r}; expected one of {OVERVOTE_RULES}"
            )
        if self.duplicate_rankings not in DUPLICATE_RULES:
            raise ValueError(
                f"unknown duplicate_rankings rule {self.duplicate_rankings!r}; "
                f"expected one of {DUPLICATE_RULES}"
            )
        if self.threshold not in QUOTAS:
            raise ValueError(f"unknown threshold {self.threshold!r}; expected one of {QUOTAS}")
        if self.method in _SINGLE_WINNER_PASSES and self.threshold.startswith("hare"):
            raise ValueError(f"a Hare quota needs several seats; not allowed for {self.method!r}")
        msr = self.max_skipped_ranks
        if msr is not None and (isinstance(msr, bool) or not isinstance(msr, int) or msr < 0):
            raise ValueError(f"max_skipped_ranks must be a whole number >= 0 or None, got {msr!r}")
        d = self.decimal_places
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 20:
            raise ValueError(f"decimal_places must be a whole number from 1 to 20, got {d!r}")
        s = self.stop_after_round
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
            raise ValueError(f"stop_after_round must be a whole number >= 1 or None, got {s!r}")


def rcv_options_from_contest(contest: Contest) -> RcvOptions:
    """Build and check the RCV options of a contest file (README "contest.json").

    Names in `options.excluded` are taken out of `candidates` (RCTab lists excluded
    candidates among the others with a flag). For `bottoms-up-threshold` an unset threshold
    means `bottoms-up-percentage`.
    """
    opts = contest.options
    method = contest.method
    if method not in RCV_METHODS:
        raise ValueError(f"method {method!r} is not a ranked-choice method {RCV_METHODS}")
    mode = opts.winner_election_mode
    if mode is not None and mode not in _ELECTION_MODES[method]:
        raise ValueError(
            f"winner_election_mode {mode!r} does not fit method {method!r}; "
            f"expected one of {_ELECTION_MODES[method]}"
        )
    threshold = opts.threshold
    if method == "bottoms-up-threshold" and "threshold" not in opts.model_fields_set:
        threshold = "bottoms-up-percentage"
    if not isinstance(threshold, str) or threshold not in QUOTAS:
        raise ValueError(
            f"options.threshold must be a quota name {QUOTAS} for method {method!r}, "
            f"got {threshold!r}"
        )
    excluded = tuple(opts.excluded)
    return RcvOptions(
        method=cast(RcvMethod, method),
        seats=contest.seats,
        candidates=tuple(c for c in contest.candidates if c not in excluded),
        overvote=opts.overvote,
        max_skipped_ranks=opts.max_skipped_ranks,
        duplicate_rankings=opts.duplicate_rankings,
        batch_elimination=opts.batch_elimination,
        continue_until_two=opts.continue_until_two,
        threshold=cast(Quota, threshold),
        first_round_determines_threshold=opts.first_round_determines_threshold,
        one_winner_per_round=mode == _ONE_WINNER_MODE,
        decimal_places=opts.decimal_places,
        excluded=excluded,
        undeclared_write_in=opts.undeclared_write_in,
        cutoff_elimination=opts.cutoff_elimination,
        bottoms_up_percentage=opts.bottoms_up_percentage,
        stop_after_round=opts.stop_after_round,
    )


def tiebreak_from_contest(contest: Contest, seed: bytes) -> TieBreak:
    """The tie-break of RCTab's `tiebreakMode` (README "Tie-breaks").

    `useCandidateOrder` / `generatePermutation` follow `options.tiebreak_order` (for
    `useCandidateOrder` without one, the candidate list); `previousRoundCountsThen*` look at
    earlier rounds first; `random` and `stopCountingAndAsk` go to the public lot, which
    replaces RCTab's random draw and its operator prompt by a draw anyone can re-run.
    """
    mode = contest.options.tiebreak
    order = contest.options.tiebreak_order
    uwi = contest.options.undeclared_write_in
    if mode == "useCandidateOrder":
        if order is None:
            order = [c for c in contest.candidates if c != uwi]
        return CandidateOrder(order)
    if mode == "generatePermutation":
        if order is None:
            raise ValueError("tiebreak 'generatePermutation' needs options.tiebreak_order")
        return CandidateOrder(order)
    if mode in ("previousRoundCountsThenRandom", "previousRoundCountsThenAsk"):
        return PreviousRounds(PublicLot(seed, contest.name))
    if mode in ("random", "stopCountingAndAsk"):
        return PublicLot(seed, contest.name)
    raise ValueError(f"unknown tiebreak mode {mode!r}")


# --- ballots -----------------------------------------------------------------------------

_EXHAUSTED: Final = -1
_Mark = int | tuple[int, ...]
"""A marked rank: a name id, or the name ids of an overvote (empty for a bare `#overvote`)."""


@dataclass(frozen=True, slots=True)
class _Row:
    marks: tuple[tuple[int, _Mark], ...]  # (rank, mark) for the marked ranks only
    count: int


@dataclass(frozen=True, slots=True)
class _Encoded:
    names: tuple[str, ...]  # candidates first, then excluded names
    rows: tuple[_Row, ...]
    valid: int
    void: int


def _encode(ballots: Sequence[Ballot], options: RcvOptions) -> _Encoded:
    """Turn names into ids once, so that the ballot walk compares integers.

    A name that is neither a candidate nor excluded is an undeclared write-in when RCTab's
    write-in handling is on (`undeclared_write_in`), and an error otherwise: a misspelt name
    must not silently lose its votes.
    """
    names = (*options.candidates, *options.excluded)
    ids = {name: i for i, name in enumerate(names)}
    uwi = options.undeclared_write_in

    def name_id(name: str, row: int) -> int:
        found = ids.get(name)
        if found is not None:
            return found
        if uwi is not None:
            return ids[uwi]
        raise ValueError(f"ballot {row + 1}: {name!r} is neither a candidate nor excluded")

    rows: list[_Row] = []
    valid = void = 0
    for n, ballot in enumerate(ballots):
        if ballot.count < 1:
            raise ValueError(f"ballot {n + 1}: count must be at least 1, got {ballot.count}")
        marks: list[tuple[int, _Mark]] = []
        for rank, mark in enumerate(ballot.marks, start=1):
            if mark is None:
                continue
            if isinstance(mark, Overvote):
                marks.append((rank, tuple(name_id(x, n) for x in mark.names)))
            else:
                marks.append((rank, name_id(mark, n)))
        if marks:
            valid += ballot.count
            rows.append(_Row(tuple(marks), ballot.count))
        else:
            void += ballot.count
    return _Encoded(names, tuple(rows), valid, void)


@dataclass(frozen=True, slots=True)
class _Walk:
    """README "Ballot walk": where a ballot goes, read from rank 1 against `live`."""

    max_gap: int | None  # max_skipped_ranks + 1
    duplicate_exhausts: bool
    overvote: OvervoteRule

    def __call__(self, marks: tuple[tuple[int, _Mark], ...], live: list[bool]) -> int:
        previous = 0
        seen: set[int] = set()
        for rank, mark in marks:
            # Skipped ranks are measured from the last rank with any mark, overvotes included.
            if self.max_gap is not None and rank - previous > self.max_gap:
                return _EXHAUSTED
            previous = rank
            if isinstance(mark, int):
                if self.duplicate_exhausts:
                    if mark in seen:
                        return _EXHAUSTED
                    seen.add(mark)
                if live[mark]:
                    return mark
                continue
            if self.overvote == "exhaust":
                return _EXHAUSTED
            if self.overvote == "exhaust_if_multiple_continuing":
                if not mark:
                    # A bare overvote does not say whom it marks, so it cannot be shown to
                    # hold at most one continuing candidate: it exhausts.
                    return _EXHAUSTED
                continuing = {x for x in mark if live[x]}
                if len(continuing) >= 2:
                    return _EXHAUSTED
                if continuing:
                    return continuing.pop()
        return _EXHAUSTED


# --- one count ---------------------------------------------------------------------------

_Kind = Literal["irv", "stv", "bottoms-up", "bottoms-up-threshold"]


class _Count:
    """One complete count; multi-pass IRV runs one per seat.

    Votes are integers in units of 10^-d. `live[c]` says whether ballots may rest with
    candidate c (README "Ballot walk", rule 1): the hopefuls, plus the IRV winner under
    `continue_until_two`.
    """

    def __init__(
        self,
        data: _Encoded,
        options: RcvOptions,
        tiebreak: TieBreak,
        *,
        kind: _Kind,
        seats: int,
        in_count: Sequence[int],
        pass_number: int | None,
    ) -> None:
        self.names = data.names
        self.rows = data.rows
        self.opt = options
        self.tiebreak = tiebreak
        self.kind: _Kind = kind
        self.seats = seats
        self.order = list(in_count)
        self.pass_number = pass_number
        self.scale = 10**options.decimal_places
        uwi = options.undeclared_write_in
        # -1 is no name id, so without write-ins the write-in tests below never match.
        self.uwi = data.names.index(uwi) if uwi is not None else -1
        self.walk = _Walk(
            None if options.max_skipped_ranks is None else options.max_skipped_ranks + 1,
            options.duplicate_rankings == "exhaust",
            options.overvote,
        )
        self.live = [False] * len(data.names)
        for c in in_count:
            self.live[c] = True
        self.hopefuls: list[int] = list(in_count)
        self.winners: list[int] = []
        self.held: dict[int, list[int]] = {c: [] for c in in_count}
        self.tally: dict[int, int] = dict.fromkeys(in_count, 0)
        self.value = [self.scale] * len(self.rows)
        self.kept: dict[int, int] = {}
        self.exhausted = 0
        self.threshold: Fraction | None = None
        self.threshold_fixed = False
        self.history: list[dict[str, Decimal]] = []
        for i, row in enumerate(self.rows):
            self._place(i, self.walk(row.marks, self.live), row.count * self.scale, None)

    # -- arithmetic helpers

    def _dec(self, units: int) -> Decimal:
        whole, rest = divmod(units, self.scale)
        return Decimal(whole) if rest == 0 else Decimal(units).scaleb(-self.opt.decimal_places)

    def _dec_threshold(self, t: Fraction) -> Decimal:
        if t.denominator == 1:
            return self._dec(t.numerator)
        # The percentage threshold's denominator divides a power of ten, so this is exact.
        with localcontext() as ctx:
            ctx.prec = len(str(t.numerator)) + 4 * len(str(t.denominator)) + 10
            exact = Decimal(t.numerator) / Decimal(t.denominator)
        return exact.scaleb(-self.opt.decimal_places)

    # -- ballot movement

    def _place(self, row: int, dest: int, amount: int, out: dict[str, int] | None) -> None:
        if dest == _EXHAUSTED:
            self.exhausted += amount
            key = EXHAUSTED_KEY
        else:
            self.held[dest].append(row)
            self.tally[dest] += amount
            key = self.names[dest]
        if out is not None and amount:
            out[key] = out.get(key, 0) + amount

    def _move_eliminated(self, gone: list[int], transfers: dict[str, dict[str, int]]) -> None:
        """README "Ballot walk": ballots of eliminated candidates go on at their value."""
        for c in gone:
            out: dict[str, int] = {}
            self.tally.pop(c)
            for r in self.held.pop(c):
                row = self.rows[r]
                self._place(r, self.walk(row.marks, self.live), row.count * self.value[r], out)
            transfers[self.names[c]] = out

    def _move_surplus(
        self, elected: list[int], transfers: dict[str, dict[str, int]], set_aside: bool
    ) -> None:
        """README "STV surplus": f = (T − Q)/T truncated; each ballot passes trunc(v × f).

        In the round after the last seat is filled, the surplus is set aside instead
        (RCTab's "final round surplus").
        """
        assert self.threshold is not None
        assert self.threshold.denominator == 1, "STV quotas are whole units"
        quota = self.threshold.numerator
        for w in elected:
            total = self.tally.pop(w)
            fraction = (total - quota) * self.scale // total if total > quota else 0
            out: dict[str, int] = {}
            passed = 0
            for r in self.held.pop(w):
                row = self.rows[r]
                value = self.value[r] * fraction // self.scale
                self.value[r] = value
                passed += row.count * value
                if not set_aside:
                    self._place(r, self.walk(row.marks, self.live), row.count * value, out)
            if set_aside and passed:
                out[FINAL_SURPLUS_KEY] = passed
            self.kept[w] = total - passed
            transfers[self.names[w]] = out

    # -- thresholds

    def _compute_threshold(self, total: int) -> Fraction:
        """README "Threshold": the quota on V, the vote held by the candidates in the count."""
        q = self.opt.threshold
        s = 1 if self.kind == "irv" else self.seats
        unit = self.scale
        if q == "droop":
            return Fraction((total // ((s + 1) * unit) + 1) * unit)
        if q == "droop-fractional":
            return Fraction(total // (s + 1) + 1)
        if q == "hare":
            return Fraction(-(-total // (s * unit)) * unit)
        if q == "hare-fractional":
            return Fraction(-(-total // s))
        assert self.opt.bottoms_up_percentage is not None
        return Fraction(total) * Fraction(self.opt.bottoms_up_percentage) / 100

    def _round_threshold(self, tally: dict[int, int]) -> Fraction:
        if self.threshold is None or not self.threshold_fixed:
            self.threshold = self._compute_threshold(sum(tally.values()))
            # STV and bottoms-up take the quota of round 1 for the whole count; the others
            # recompute it each round unless `first_round_determines_threshold`.
            self.threshold_fixed = (
                self.kind in ("stv", "bottoms-up") or self.opt.first_round_determines_threshold
            )
        return self.threshold

    # -- decisions

    def _top(self, among: list[int], round_no: int) -> int:
        """The most votes among `among`; a tie goes to the tie-break, purpose "elect"."""
        best = max(self.tally[c] for c in among)
        tied = [c for c in among if self.tally[c] == best]
        if len(tied) == 1:
            return tied[0]
        ranked = self.tiebreak.rank([self.names[c] for c in tied], "elect", round_no, self.history)
        return self.names.index(ranked[0])

    def _elect(self, round_no: int, threshold: Fraction) -> list[int]:
        """README "Election, checked each round before any elimination"."""
        tally = self.tally
        if self.uwi in self.hopefuls and tally[self.uwi] > 0:
            return []
        if self.kind == "bottoms-up-threshold":
            if self.hopefuls and all(tally[c] > threshold for c in self.hopefuls):
                return list(self.hopefuls)
            return []
        unfilled = self.seats - len(self.winners)
        if unfilled <= 0:
            return []
        if len(self.hopefuls) <= unfilled:
            return list(self.hopefuls)
        if self.kind != "bottoms-up":
            reached = [c for c in self.hopefuls if c != self.uwi and tally[c] >= threshold]
            if reached:
                if self.opt.one_winner_per_round or self.opt.first_round_determines_threshold:
                    return [self._top(reached, round_no)]
                # A quota of 0 (no votes at all) is reached by everyone; the seats still cap
                # the winners, taken by votes with ties to the tie-break.
                chosen: list[int] = []
                while reached and len(chosen) < unfilled:
                    chosen.append(self._top(reached, round_no))
                    reached.remove(chosen[-1])
                return chosen
        if self.opt.first_round_determines_threshold and len(self.hopefuls) == unfilled + 1:
            return [self._top(self.hopefuls, round_no)]
        if self.kind == "irv" and len(self.hopefuls) == 2:
            return [self._top(self.hopefuls, round_no)]
        return []

    def _pool(self) -> list[int]:
        """The candidates whose tallies still move, in candidate order."""
        return [c for c in self.order if c in self.tally and self.live[c]]

    def _batch(self, pool: list[int]) -> list[int]:
        """README "Elimination", rule 3: RCTab `batchElimination`."""
        values = sorted({self.tally[c] for c in pool})
        batches: list[list[int]] = []
        below = 0
        for i, v in enumerate(values):
            if i > 0 and below < v:
                batches.append([c for c in pool if self.tally[c] < v])
            below += v * sum(1 for c in pool if self.tally[c] == v)
        if not batches:
            return []
        chosen = batches[-1]
        if self.opt.continue_until_two and len(pool) - len(chosen) < 2:
            chosen = batches[-2] if len(batches) > 1 else []
        return chosen if len(chosen) >= 2 else []

    def _eliminate(self, round_no: int, threshold: Fraction) -> list[int]:
        """README "Elimination": the first of its four rules that applies."""
        pool = self._pool()
        if self.uwi in pool and self.tally[self.uwi] > 0:
            return [self.uwi]
        if self.opt.cutoff_elimination:
            cut = [c for c in pool if self.tally[c] < threshold]
            if cut:
                return cut
        if self.opt.batch_elimination:
            batch = self._batch(pool)
            if batch:
                return batch
        least = min(self.tally[c] for c in pool)
        tied = [c for c in pool if self.tally[c] == least]
        if len(tied) == 1:
            return tied
        ranked = self.tiebreak.rank(
            [self.names[c] for c in tied], "eliminate", round_no, self.history
        )
        return [self.names.index(ranked[-1])]

    def _needs_elimination(self) -> bool:
        if not self.hopefuls:
            return False
        if self.kind == "bottoms-up-threshold":
            return True
        if len(self.winners) < self.seats:
            return True
        return self.opt.continue_until_two and len(self._pool()) > 2

    # -- the rounds

    def _snapshot(self) -> dict[int, int]:
        """This round's tally: live candidates, then STV winners at min(kept, Q)."""
        out: dict[int, int] = {}
        for c in self.order:
            if c in self.tally:
                out[c] = self.tally[c]
            elif c in self.kept:
                assert self.threshold is not None
                out[c] = min(self.kept[c], int(self.threshold))
        return out

    def run(self) -> tuple[list[Round], list[str]]:
        """Count round by round until the seats are filled (README "Counting rules")."""
        rounds: list[Round] = []
        moving_out: list[int] = []
        surplus_of: list[int] = []
        final = False
        # README: with more seats than candidates, all are elected in round 1 and it stops.
        everyone = self.kind != "bottoms-up-threshold" and self.seats > len(self.order)
        round_no = 0
        while True:
            round_no += 1
            transfers: dict[str, dict[str, int]] = {}
            if moving_out:
                self._move_eliminated(moving_out, transfers)
            if surplus_of:
                self._move_surplus(surplus_of, transfers, set_aside=final)
            moving_out, surplus_of = [], []
            snapshot = self._snapshot()
            threshold = self._round_threshold(snapshot)
            tally = {self.names[c]: self._dec(v) for c, v in snapshot.items()}
            self.history.append(tally)
            elected: list[int] = []
            eliminated: list[int] = []
            if final:
                stop = True
            elif everyone:
                elected = self._by_name(self.hopefuls)
                self._apply_election(elected)
                stop = True
            elif elected := self._by_name(self._elect(round_no, threshold)):
                done = self._apply_election(elected)
                if self.kind == "stv":
                    # README "STV surplus": one more round follows the last seat.
                    surplus_of, final, stop = elected, done, False
                else:
                    stop = done
            elif self._needs_elimination():
                eliminated = self._by_name(self._eliminate(round_no, threshold))
                for c in eliminated:
                    self.live[c] = False
                    self.hopefuls.remove(c)
                moving_out, stop = eliminated, False
            else:
                stop = True
            rounds.append(
                Round(
                    round=round_no,
                    tally=tally,
                    elected=[self.names[c] for c in elected],
                    eliminated=[self.names[c] for c in eliminated],
                    threshold=self._dec_threshold(threshold),
                    exhausted=self._dec(self.exhausted),
                    transfers={
                        src: {dst: self._dec(v) for dst, v in moved.items()}
                        for src, moved in transfers.items()
                    },
                    pass_number=self.pass_number,
                )
            )
            limit = self.opt.stop_after_round
            if stop or (limit is not None and round_no >= limit):
                break
        return rounds, [self.names[c] for c in self.winners]

    def _by_name(self, chosen: list[int]) -> list[int]:
        """Several candidates chosen in one round are listed by name, as RCTab reports them.

        The order has no effect on the count: all of them leave together.
        """
        return sorted(chosen, key=self.names.__getitem__)

    def _apply_election(self, elected: list[int]) -> bool:
        """Mark winners; True when no further seat is to be filled."""
        keeps_ballots = self.kind == "irv" and self.opt.continue_until_two
        for c in elected:
            self.hopefuls.remove(c)
            self.winners.append(c)
            self.live[c] = keeps_ballots
        if keeps_ballots:
            # README "Threshold": under continue_until_two it freezes once the winner is found,
            # and README "Other rules": eliminations go on until two candidates remain.
            self.threshold_fixed = True
            return len(self._pool()) <= 2
        if self.kind == "bottoms-up-threshold":
            return True
        return len(self.winners) >= self.seats


def _lot_source(tiebreak: TieBreak) -> PublicLot | None:
    if isinstance(tiebreak, PublicLot):
        return tiebreak
    if isinstance(tiebreak, PreviousRounds):
        return _lot_source(tiebreak.fallback)
    return None


def count_rcv(ballots: Sequence[Ballot], options: RcvOptions, tiebreak: TieBreak) -> Result:
    """Count ranked ballots under `options` (README "Counting rules"); a pure function.

    Every round is in `Result.rounds`. `multi-pass-irv` (RCTab `multiPassIrv`) runs one IRV
    count per seat, excluding the winners of earlier passes; its rounds carry `pass_number`
    and restart at 1 in each pass. Draws of a public lot taken during this count are copied
    into `Result.lots`.
    """
    data = _encode(ballots, options)
    lot_source = _lot_source(tiebreak)
    lots_before = len(lot_source.lots) if lot_source is not None else 0
    ids = {name: i for i, name in enumerate(data.names)}
    rounds: list[Round] = []
    elected: list[str] = []
    if options.method == "multi-pass-irv":
        for pass_number in range(1, options.seats + 1):
            remaining = [ids[c] for c in options.candidates if c not in elected]
            if not remaining:
                break
            count = _Count(
                data,
                options,
                tiebreak,
                kind="irv",
                seats=1,
                in_count=remaining,
                pass_number=pass_number,
            )
            pass_rounds, winners = count.run()
            rounds.extend(pass_rounds)
            if not winners:
                break
            elected.extend(winners)
    else:
        kind: _Kind = options.method
        count = _Count(
            data,
            options,
            tiebreak,
            kind=kind,
            seats=options.seats,
            in_count=[ids[c] for c in options.candidates],
            pass_number=None,
        )
        rounds, elected = count.run()
    lots: list[Lot] = list(lot_source.lots[lots_before:]) if lot_source is not None else []
    return Result(
        method=options.method,
        seats=options.seats,
        elected=elected,
        rounds=rounds,
        valid=data.valid,
        void=data.void,
        lots=lots,
        fractional=options.method == "stv",
    )
