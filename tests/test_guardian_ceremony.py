"""The key ceremony's rounds over HTTP (issue 14, item 1): a bad share gets a complaint and an
answer, and the server keeps only messages that check, in order, once each. Guardians run
here as threads of the test (`CeremonyRun`, the code of `verivote guardian ceremony`) so that
one of them can be made dishonest; tests/test_guardian.py runs them as processes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.parties_fixtures import GUARDIANS, Authority, authority, held_ceremony, start_guardian
from tests.store_fixtures import backend_database
from verivote.crypto.ceremony import EncryptedShare, KeyShare
from verivote.parties.guardian import CeremonyRun, Client, ServerError, Waiting, read_token


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Authority]:
    with backend_database("sqlite", tmp_path) as url, authority(url, tmp_path) as a:
        yield a


class GarbledShare(CeremonyRun):
    """Sends guardian 1 a sealed share that does not open, then answers honestly."""

    def _post(self, round_: str, doc: Any) -> None:
        if round_ == "shares":
            first = EncryptedShare.model_validate(doc[0])
            flipped = ("00" if first.ciphertext[:2] != "00" else "01") + first.ciphertext[2:]
            doc = [first.model_copy(update={"ciphertext": flipped}).model_dump(), *doc[1:]]
        super()._post(round_, doc)


class OtherPolynomial(CeremonyRun):
    """Sends shares of another polynomial than the one it committed to (and answers with it)."""

    def send(self) -> None:
        assert self.secrets is not None
        coefficients = [(a + 1) % (1 << 200) for a in self.secrets.coefficients]
        self.secrets = dataclasses.replace(self.secrets, coefficients=coefficients)
        super().send()


def _run_all(a: Authority, third: type[CeremonyRun]) -> dict[int, KeyShare | Exception]:
    results: dict[int, KeyShare | Exception] = {}

    def one(g: int) -> None:
        kind = third if g == 3 else CeremonyRun
        client = Client(a.server, read_token(a.token(g)))
        try:
            results[g] = kind(client, a.folder(g), g, None, Waiting(0.05, 60)).run()[0]
        except Exception as exc:  # reported by the test
            results[g] = exc

    threads = [threading.Thread(target=one, args=(g,)) for g in range(1, GUARDIANS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_a_share_that_does_not_open_gets_a_complaint_and_an_answer(auth: Authority) -> None:
    results = _run_all(auth, GarbledShare)
    assert all(isinstance(r, KeyShare) for r in results.values()), results
    ctx = auth.ctx
    assert ctx.transcript is not None
    assert [(c.complainant, c.accused) for c in ctx.transcript.complaints] == [(1, 3)]
    assert ctx.transcript.complaints[0].reason == "the share does not decrypt"
    assert [(a.accused, a.complainant) for a in ctx.transcript.answers] == [(3, 1)]
    assert ctx.transcript.qualified == [1, 2, 3]  # the answer checks: guardian 3 stays
    log = (auth.folder(1) / "guardian.log").read_text(encoding="utf-8")
    assert "complains about guardian 3: the share does not decrypt" in log


def test_shares_of_another_polynomial_disqualify_their_sender(auth: Authority) -> None:
    results = _run_all(auth, OtherPolynomial)
    assert all(isinstance(r, KeyShare) for r in results.values()), results
    ctx = auth.ctx
    assert ctx.transcript is not None
    assert sorted((c.complainant, c.accused) for c in ctx.transcript.complaints) == [
        (1, 3),
        (2, 3),
    ]
    assert len(ctx.transcript.answers) == 2
    assert ctx.transcript.qualified == [1, 2]
    state = Client(auth.server).get_json("/api/ceremony")
    assert state["round"] == "finished"
    assert set(state["messages"]["complaints"]) == {"1", "2", "3"}
    assert state["messages"]["complaints"]["3"] == []


def test_the_server_keeps_only_checked_messages_in_order(auth: Authority) -> None:
    clients = {g: Client(auth.server, read_token(auth.token(g))) for g in (1, 2, 3)}
    runs = {g: CeremonyRun(clients[g], auth.folder(g), g) for g in (1, 2, 3)}
    for run in runs.values():
        run.start()
    one = runs[1]
    assert one.committed is not None
    assert one.keys is not None
    with pytest.raises(ServerError, match="not open yet"):
        clients[1].post_json("/api/ceremony/reveal", one.keys.model_dump(mode="json"))
    with pytest.raises(ServerError, match=r"may reveal only|guardian's number"):
        clients[2].post_json("/api/ceremony/commitment", one.committed.model_dump(mode="json"))
    with pytest.raises(ServerError, match="unknown guardian token"):
        Client(auth.server, "nope").post_json("/api/ceremony/commitment", {})
    for run in runs.values():
        run.commit()
    one.commit()  # a retry of the same message is harmless
    runs[1].reveal()
    with pytest.raises(ServerError, match=r"already posted another|closed"):
        clients[2].post_json("/api/ceremony/commitment", {"guardian": 2, "hash": "ab" * 32})
    # a reveal that does not match the hash published first is refused
    other = runs[3].keys
    assert other is not None
    forged = other.model_copy(update={"commitments": list(reversed(other.commitments))})
    with pytest.raises(ServerError, match="do not match the hash published first"):
        clients[3].post_json("/api/ceremony/reveal", forged.model_dump(mode="json"))
    state = clients[1].get_json("/api/ceremony")
    assert state["round"] == "reveal"
    assert set(state["messages"]["reveal"]) == {"1"}
    assert state["guardians"] == 3
    assert state["quorum"] == 2


def test_guardians_that_gave_up_waiting_resume_where_they_were(auth: Authority) -> None:
    waiting = [start_guardian(auth, g, "ceremony", "--timeout", "1") for g in (1, 2)]
    for process in waiting:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 1
        assert "gave up after" in err
        assert "waits for guardian(s) 3" in err
    state = Client(auth.server).get_json("/api/ceremony")
    assert set(state["messages"]["commitment"]) == {"1", "2"}
    held_ceremony(auth)  # 1 and 2 resume with the polynomials they committed to
    assert auth.ctx.transcript is not None
    assert auth.ctx.transcript.qualified == [1, 2, 3]
