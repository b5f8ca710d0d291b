"""SIGKILL the agent at random moments during a stream of commits; nothing acknowledged is lost.

The agent runs as a real process (``nvo3-nve serve``). A client streams commits of every
kind the agent persists differently — edit-config on running (one log record), candidate
edits then ``<commit>`` (several records in one append), copy-config of inline content to
running (a new snapshot), copy-config running to startup (startup's file), confirmed
commits with and without ``<persist>`` — while a timer SIGKILLs the agent. After each
restart on the same state directory:

- running equals either the last acknowledged configuration or the one being committed,
  exactly (configuration ``k`` is a known function of ``k``: never a mix of two);
- startup likewise;
- a confirmed commit follows RFC 6241 sec. 8.4: one that was not confirmed and not
  persisted is rolled back (its session ended with the crash); a persisted one is still
  pending (it can be cancelled, which restores the previous configuration); none is ever
  left in place without its rollback point;
- the agent starts at all (no file it wrote is corrupt).

``make test`` runs a few iterations (``NVO3_CRASH_ITERATIONS``, default 4); ``make soak``
runs 200 or more. ``NVO3_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from tests.robustness.agentproc import GONE, AgentProcess, Client, error_tags

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NT = "urn:nvo3-netconf:yang:nvo3-test"
X = {"nt": NT}
PAD = 12 * 1024  # big log records: the log is compacted into a snapshot every ~80 edits


# ------------------------------------------------------------ configuration k
def value(i: int) -> str:
    return f"v{i}-" + "abcdefghijklmnopqrstuvwxyz"[i % 26] * (PAD + i % 97)


def entries(k: int) -> dict[int, str]:
    return {i: value(i) for i in range(max(1, k - 3), k + 1)}


def expected(k: int) -> tuple[str | None, dict[int, str]]:
    """Configuration number k: the note and the bulk entries (0: empty)."""
    return (f"step-{k}" if k else None), entries(k)


def observed(data: etree._Element) -> tuple[str | None, dict[int, str]]:
    note = data.findtext("nt:top/nt:settings/nt:note", namespaces=X)
    found = {int(e.findtext("nt:id", namespaces=X) or "0"): e.findtext("nt:value", namespaces=X)
             or "" for e in data.iterfind("nt:bulk/nt:entry", X)}
    extra = [el.tag for el in data.iter() if isinstance(el.tag, str) and etree.QName(el).localname
             not in ("data", "top", "settings", "note", "bulk", "entry", "id", "value")]
    assert not extra, f"unexpected nodes {extra}"
    return note, found


def which(data: etree._Element, candidates: set[int]) -> int:
    """The k among ``candidates`` that ``data`` is exactly; fails on anything else."""
    state = observed(data)
    for k in sorted(candidates):
        if state == expected(k):
            return k
    note, found = state
    raise AssertionError(f"configuration is none of {sorted(candidates)} (a mix or a loss): "
                         f"note={note!r}, entries={sorted(found)}")


def step_edit(k: int) -> str:
    """The edit from configuration k-1 to k, as config content."""
    delete = (f'<entry xmlns:nc="{NC}" nc:operation="delete"><id>{k - 4}</id></entry>'
              if k - 4 >= 1 else "")
    return (f'<top xmlns="{NT}"><settings><note>step-{k}</note></settings></top>'
            f'<bulk xmlns="{NT}"><entry><id>{k}</id><value>{value(k)}</value></entry>'
            f"{delete}</bulk>")


def full_config(k: int) -> str:
    note, items = expected(k)
    body = "".join(f"<entry><id>{i}</id><value>{v}</value></entry>" for i, v in items.items())
    return (f'<top xmlns="{NT}"><settings><note>{note}</note></settings></top>'
            f'<bulk xmlns="{NT}">{body}</bulk>')


def edit(target: str, config: str) -> str:
    return (f"<edit-config><target><{target}/></target><config>{config}</config>"
            "</edit-config>")


def candidate_edits(k: int) -> list[str]:
    """Step k as three separate candidate edits (committed together)."""
    parts = [f'<top xmlns="{NT}"><settings><note>step-{k}</note></settings></top>',
             f'<bulk xmlns="{NT}"><entry><id>{k}</id><value>{value(k)}</value></entry></bulk>']
    if k - 4 >= 1:
        parts.append(f'<bulk xmlns="{NT}"><entry xmlns:nc="{NC}" nc:operation="delete">'
                     f"<id>{k - 4}</id></entry></bulk>")
    return [edit("candidate", p) for p in parts]


# ------------------------------------------------------------------ the model
@dataclass
class Model:
    """What the client knows: acknowledged configurations and what was in flight."""

    running: int = 0
    running_allowed: set[int] = field(default_factory=lambda: {0})
    startup: int = 0
    startup_allowed: set[int] = field(default_factory=lambda: {0})
    # A confirmed commit of step k whose fate depends on when the crash came:
    # (k, token or None, phase) with phase "confirming" (the confirmed commit in flight),
    # "pending" (acknowledged, not yet confirmed) or "finishing" (confirmation in flight).
    confirmed: tuple[int, str | None, str] | None = None
    steps: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def kind_of(k: int) -> str:
    return {0: "replace", 3: "candidate", 5: "confirmed-persist", 7: "candidate",
            8: "confirmed-session"}.get(k % 10, "running")


def run_step(client: Client, model: Model, k: int) -> None:
    """Move running from k-1 to k; updates the model as replies arrive."""
    kind = kind_of(k)
    model.kinds[kind] = model.kinds.get(kind, 0) + 1
    if kind == "running":
        model.running_allowed = {k - 1, k}
        client.ok(edit("running", step_edit(k)))
    elif kind == "replace":
        model.running_allowed = {k - 1, k}
        client.ok(f"<copy-config><target><running/></target><source><config>{full_config(k)}"
                  "</config></source></copy-config>")
    else:
        client.ok("<discard-changes/>")
        for operation in candidate_edits(k):
            client.ok(operation)
        if kind == "candidate":
            model.running_allowed = {k - 1, k}
            client.ok("<commit/>")
        else:
            token = f"tok-{k}" if kind == "confirmed-persist" else None
            persist = f"<persist>{token}</persist>" if token else ""
            model.confirmed = (k, token, "confirming")
            model.running_allowed = {k - 1, k}
            client.ok(f"<commit><confirmed/><confirm-timeout>600</confirm-timeout>{persist}"
                      "</commit>")
            model.confirmed = (k, token, "pending")
            confirm = f"<commit><persist-id>{token}</persist-id></commit>" if token else "<commit/>"
            model.confirmed = (k, token, "finishing")
            client.ok(confirm)
            model.confirmed = None
    model.running = k
    model.running_allowed = {k}
    model.steps += 1
    if k % 6 == 5:
        model.startup_allowed = {model.startup, k}
        client.ok("<copy-config><target><startup/></target><source><running/></source>"
                  "</copy-config>")
        model.startup = k
        model.startup_allowed = {k}


def recover(client: Client, model: Model) -> None:
    """After a restart: check running, startup and any confirmed commit; resolve the model."""
    running = client.get_config("running")
    pending = model.confirmed
    if pending is None:
        model.running = which(running, model.running_allowed)
    else:
        k, token, phase = pending
        now = which(running, {k - 1, k})
        if token is None:
            # Not persisted: its session ended with the crash, so it was rolled back —
            # unless the confirmation itself had been made durable.
            allowed = {k - 1, k} if phase == "finishing" else {k - 1}
            assert now in allowed, f"unconfirmed commit of step {k} survived the crash ({phase})"
            tags = error_tags(client.call("<cancel-commit/>"))
            assert tags == ["operation-failed"], "a non-persisted confirmed commit is pending"
        else:
            # Persisted: still in place after the restart once acknowledged (its deadline
            # is far), pending or confirmed.
            if phase != "confirming":
                assert now == k, f"acknowledged confirmed commit of step {k} lost ({phase})"
            reply = client.call(f"<cancel-commit><persist-id>{token}</persist-id></cancel-commit>")
            cancelled = not error_tags(reply)
            if now == k and phase != "finishing":
                assert cancelled, (f"step {k}: the confirmed commit is in place without "
                                   f"its rollback point ({phase})")
            if cancelled:
                now = which(client.get_config("running"), {k - 1})
        model.running = now
        model.confirmed = None
    model.running_allowed = {model.running}
    model.startup = which(client.get_config("startup"), model.startup_allowed)
    model.startup_allowed = {model.startup}
    # Candidate starts as running after a restart.
    assert observed(client.get_config("candidate")) == expected(model.running)


def crash_loop(workdir: Path, iterations: int, seed: int) -> Model:
    rng = random.Random(seed)
    agent = AgentProcess(workdir)
    model = Model()
    try:
        for iteration in range(iterations):
            agent.start()
            client = agent.connect()
            try:
                recover(client, model)
            except AssertionError as error:
                raise AssertionError(f"seed {seed}, iteration {iteration}: {error}\n"
                                     f"{agent.tail()}") from None
            delay = rng.uniform(0.05, 1.5)
            killer = threading.Timer(delay, agent.kill)
            killer.start()
            try:
                k = model.running
                while True:
                    k += 1
                    run_step(client, model, k)
            except GONE:
                pass
            finally:
                killer.join()
                client.close()
            agent.kill()
        # One last restart, checked, then a clean stop.
        agent.start()
        client = agent.connect()
        recover(client, model)
        client.close()
        assert agent.stop() == 0
        assert "Traceback" not in agent.log.read_text(errors="replace"), agent.tail(80)
        return model
    finally:
        agent.kill()


def test_sigkill_during_commits_loses_nothing_acknowledged(tmp_path: Path) -> None:
    iterations = int(os.environ.get("NVO3_CRASH_ITERATIONS", "4"))
    seed = int(os.environ.get("NVO3_CRASH_SEED", str(random.randrange(1 << 30))))
    started = time.monotonic()
    model = crash_loop(tmp_path, iterations, seed)
    print(f"\ncrash test: seed {seed}, {iterations} SIGKILLs, {model.steps} acknowledged steps "
          f"{dict(sorted(model.kinds.items()))}, {time.monotonic() - started:.0f} s")
    assert model.steps > 0


# ------------------------------------------------------- confirmed commit timing
def test_persisted_confirmed_commit_rolls_back_after_a_crash(tmp_path: Path) -> None:
    """Killed while a persisted confirmed commit waits: the deadline still holds."""
    agent = AgentProcess(tmp_path)
    try:
        agent.start()
        client = agent.connect()
        client.ok(edit("running", step_edit(1)))
        for operation in candidate_edits(2):
            client.ok(operation)
        client.ok("<commit><confirmed/><confirm-timeout>3</confirm-timeout>"
                  "<persist>p1</persist></commit>")
        agent.kill()
        agent.start()
        client = agent.connect()
        # Restarted before the deadline: still the confirmed configuration, still pending.
        started = time.monotonic()
        assert which(client.get_config("running"), {1, 2}) == 2
        while time.monotonic() - started < 10:
            if observed(client.get_config("running")) == expected(1):
                break
            time.sleep(0.2)
        assert which(client.get_config("running"), {1}) == 1
        # Rolled back once the deadline passed while the agent was down, too.
        for operation in candidate_edits(2):
            client.ok(operation)
        client.ok("<commit><confirmed/><confirm-timeout>1</confirm-timeout>"
                  "<persist>p2</persist></commit>")
        agent.kill()
        time.sleep(1.5)
        agent.start()
        client = agent.connect()
        assert which(client.get_config("running"), {1}) == 1
        # Confirmed after a restart with its persist-id: it stays.
        for operation in candidate_edits(2):
            client.ok(operation)
        client.ok("<commit><confirmed/><confirm-timeout>2</confirm-timeout>"
                  "<persist>p3</persist></commit>")
        agent.kill()
        agent.start()
        client = agent.connect()
        client.ok("<commit><persist-id>p3</persist-id></commit>")
        time.sleep(2.5)
        assert which(client.get_config("running"), {2}) == 2
        agent.kill()
        agent.start()
        client = agent.connect()
        assert which(client.get_config("running"), {2}) == 2
        client.close()
    finally:
        agent.kill()


def test_unpersisted_confirmed_commit_is_rolled_back_by_a_crash(tmp_path: Path) -> None:
    """Its session ends with the crash: RFC 6241 sec. 8.4.1 says roll back."""
    agent = AgentProcess(tmp_path)
    try:
        agent.start()
        client = agent.connect()
        client.ok(edit("running", step_edit(1)))
        for operation in candidate_edits(2):
            client.ok(operation)
        client.ok("<commit><confirmed/></commit>")
        assert which(client.get_config("running"), {2}) == 2
        agent.kill()
        agent.start()
        client = agent.connect()
        assert which(client.get_config("running"), {1}) == 1
        assert error_tags(client.call("<cancel-commit/>")) == ["operation-failed"]
        client.close()
    finally:
        agent.kill()


@pytest.mark.parametrize("kill_after", [0.0, 0.002, 0.01, 0.03])
def test_kill_right_after_a_confirmed_commit_is_sent(tmp_path: Path, kill_after: float) -> None:
    """The window between the new running and its rollback point, hit on purpose."""
    agent = AgentProcess(tmp_path)
    try:
        agent.start()
        client = agent.connect()
        client.ok(edit("running", step_edit(1)))
        for operation in candidate_edits(2):
            client.ok(operation)
        client.raw.send(f'<rpc xmlns="{NC}" message-id="c"><commit><confirmed/>'
                        "<persist>w</persist></commit></rpc>".encode())
        time.sleep(kill_after)
        agent.kill()
        agent.start()
        client = agent.connect()
        now = which(client.get_config("running"), {1, 2})
        cancelled = not error_tags(client.call("<cancel-commit><persist-id>w</persist-id>"
                                               "</cancel-commit>"))
        if now == 2:
            assert cancelled, "confirmed configuration in place without its rollback point"
        assert which(client.get_config("running"), {1}) == 1
        client.close()
    finally:
        agent.kill()
