"""The VM lifecycle state machine (seed 003 Figures 4 and 5, DESIGN.md), table-driven.

``EXPECTED`` is written from the seed and DESIGN.md independently of the module's own
table: one row per (state, step) pair, so every transition and every illegal one is
checked, and a test makes sure no pair is missing.
"""

from __future__ import annotations

import itertools

import pytest

from nvo3_netconf.nve.lifecycle import (
    Effect,
    ImmigrationPhase,
    MigrationPhase,
    Parameters,
    ReplyReason,
    Result,
    Step,
    VMEvent,
    VMState,
    allowed_from,
    decide,
    step_for,
)

NONE = None
PRE = VMState.PRE_ASSOCIATED
ASSOC = VMState.ASSOCIATED
SUSP = VMState.SUSPENDED
EMIG = VMState.EMIGRATING
IMMIG = VMState.IMMIGRATING
STATES = (NONE, PRE, ASSOC, SUSP, EMIG, IMMIG)

S, F = Result.SUCCESS, Result.FAIL
INVALID = ReplyReason.INVALID_STATE
UNKNOWN = ReplyReason.UNKNOWN_VM
E = Effect
M = MigrationPhase

# (state, step): FAIL reason, or (new state, effect with same parameters, effect with
# different parameters, migration phase reached)
EXPECTED: dict[tuple[VMState | None, Step], object] = {
    # no state: only pre-associate / associate / immigrate create one
    (NONE, Step.PRE_ASSOCIATE): (PRE, E.INSTALL, E.INSTALL, None),
    (NONE, Step.ASSOCIATE): (ASSOC, E.INSTALL, E.INSTALL, None),
    (NONE, Step.IMMIGRATE_PRE_ASSOCIATE): (IMMIG, E.INSTALL, E.INSTALL, M.IMMIGRATION_PREPARED),
    (NONE, Step.IMMIGRATE_ASSOCIATE): (ASSOC, E.INSTALL, E.INSTALL, M.IMMIGRATION_COMPLETED),
    (NONE, Step.SUSPEND): UNKNOWN,
    (NONE, Step.RESUME): (NONE, E.NONE, E.NONE, None),  # sec. 3.3.4: SUCCESS, nothing
    (NONE, Step.EMIGRATE): UNKNOWN,
    (NONE, Step.TERMINATE): (NONE, E.NONE, E.NONE, None),
    (NONE, Step.KEEP_ALIVE): UNKNOWN,
    (NONE, Step.AGED_OUT): (NONE, E.NONE, E.NONE, None),
    # pre-associated
    (PRE, Step.PRE_ASSOCIATE): (PRE, E.REFRESH, E.REPLACE, None),
    (PRE, Step.ASSOCIATE): (ASSOC, E.ACTIVATE, E.REPLACE, None),
    (PRE, Step.IMMIGRATE_PRE_ASSOCIATE): (IMMIG, E.REFRESH, E.REPLACE, M.IMMIGRATION_PREPARED),
    (PRE, Step.IMMIGRATE_ASSOCIATE): (ASSOC, E.ACTIVATE, E.REPLACE, M.IMMIGRATION_COMPLETED),
    (PRE, Step.SUSPEND): INVALID,
    (PRE, Step.RESUME): (PRE, E.NONE, E.NONE, None),
    (PRE, Step.EMIGRATE): (EMIG, E.INACTIVATE, E.INACTIVATE, M.EMIGRATION_STARTED),
    (PRE, Step.TERMINATE): (NONE, E.RELEASE, E.RELEASE, None),
    (PRE, Step.KEEP_ALIVE): (PRE, E.REFRESH, E.REFRESH, None),
    (PRE, Step.AGED_OUT): (NONE, E.RELEASE, E.RELEASE, None),
    # associated
    (ASSOC, Step.PRE_ASSOCIATE): INVALID,
    (ASSOC, Step.ASSOCIATE): (ASSOC, E.REFRESH, E.REPLACE, None),
    (ASSOC, Step.IMMIGRATE_PRE_ASSOCIATE): INVALID,
    (ASSOC, Step.IMMIGRATE_ASSOCIATE): (ASSOC, E.REFRESH, E.REPLACE, M.IMMIGRATION_COMPLETED),
    (ASSOC, Step.SUSPEND): (SUSP, E.INACTIVATE, E.INACTIVATE, None),
    (ASSOC, Step.RESUME): (ASSOC, E.NONE, E.NONE, None),
    (ASSOC, Step.EMIGRATE): (EMIG, E.INACTIVATE, E.INACTIVATE, M.EMIGRATION_STARTED),
    (ASSOC, Step.TERMINATE): (NONE, E.RELEASE, E.RELEASE, None),
    (ASSOC, Step.KEEP_ALIVE): (ASSOC, E.REFRESH, E.REFRESH, None),
    (ASSOC, Step.AGED_OUT): (NONE, E.RELEASE, E.RELEASE, None),
    # suspended
    (SUSP, Step.PRE_ASSOCIATE): INVALID,
    (SUSP, Step.ASSOCIATE): (ASSOC, E.ACTIVATE, E.REPLACE, None),
    (SUSP, Step.IMMIGRATE_PRE_ASSOCIATE): INVALID,
    (SUSP, Step.IMMIGRATE_ASSOCIATE): INVALID,
    (SUSP, Step.SUSPEND): INVALID,
    (SUSP, Step.RESUME): (ASSOC, E.ACTIVATE, E.ACTIVATE, None),
    (SUSP, Step.EMIGRATE): (EMIG, E.INACTIVATE, E.INACTIVATE, M.EMIGRATION_STARTED),
    (SUSP, Step.TERMINATE): (NONE, E.RELEASE, E.RELEASE, None),
    (SUSP, Step.KEEP_ALIVE): (SUSP, E.REFRESH, E.REFRESH, None),
    (SUSP, Step.AGED_OUT): (NONE, E.RELEASE, E.RELEASE, None),
    # emigrating: kept until terminate; a failed migration brings the VM back
    (EMIG, Step.PRE_ASSOCIATE): INVALID,
    (EMIG, Step.ASSOCIATE): (ASSOC, E.ACTIVATE, E.REPLACE, M.EMIGRATION_CANCELLED),
    (EMIG, Step.IMMIGRATE_PRE_ASSOCIATE): INVALID,
    (EMIG, Step.IMMIGRATE_ASSOCIATE): INVALID,
    (EMIG, Step.SUSPEND): INVALID,
    (EMIG, Step.RESUME): (ASSOC, E.ACTIVATE, E.ACTIVATE, M.EMIGRATION_CANCELLED),
    (EMIG, Step.EMIGRATE): INVALID,
    (EMIG, Step.TERMINATE): (NONE, E.RELEASE, E.RELEASE, M.EMIGRATION_COMPLETED),
    (EMIG, Step.KEEP_ALIVE): (EMIG, E.REFRESH, E.REFRESH, None),
    (EMIG, Step.AGED_OUT): (NONE, E.RELEASE, E.RELEASE, None),
    # immigrating: installed, active on Immigration (Asso)
    (IMMIG, Step.PRE_ASSOCIATE): INVALID,
    (IMMIG, Step.ASSOCIATE): (ASSOC, E.ACTIVATE, E.REPLACE, M.IMMIGRATION_COMPLETED),
    (IMMIG, Step.IMMIGRATE_PRE_ASSOCIATE): (IMMIG, E.REFRESH, E.REPLACE, None),
    (IMMIG, Step.IMMIGRATE_ASSOCIATE): (ASSOC, E.ACTIVATE, E.REPLACE, M.IMMIGRATION_COMPLETED),
    (IMMIG, Step.SUSPEND): INVALID,
    (IMMIG, Step.RESUME): (IMMIG, E.NONE, E.NONE, None),
    (IMMIG, Step.EMIGRATE): INVALID,
    (IMMIG, Step.TERMINATE): (NONE, E.RELEASE, E.RELEASE, M.IMMIGRATION_FAILED),
    (IMMIG, Step.KEEP_ALIVE): (IMMIG, E.REFRESH, E.REFRESH, None),
    (IMMIG, Step.AGED_OUT): (NONE, E.RELEASE, E.RELEASE, M.IMMIGRATION_FAILED),
}

ALL_PAIRS = list(itertools.product(STATES, list(Step)))


def _label(pair: tuple[VMState | None, Step]) -> str:
    state, step = pair
    return f"{state.value if state else 'none'}-{step.name.lower()}"


def test_the_expected_table_covers_every_state_and_step() -> None:
    assert set(EXPECTED) == set(ALL_PAIRS)


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_label)
def test_transition(pair: tuple[VMState | None, Step]) -> None:
    state, step = pair
    expected = EXPECTED[pair]
    variants = [Parameters.NONE]
    if step.carries_parameters and state is not None:
        variants = [Parameters.SAME, Parameters.DIFFERENT]
    for parameters in variants:
        outcome = decide(state, step, parameters)
        if isinstance(expected, ReplyReason):
            assert outcome.result is F
            assert outcome.reason is expected
            assert outcome.state is state, "a FAIL never changes the state"
            assert outcome.effect is E.NONE, "a FAIL never touches resources"
            assert outcome.progress is None
            continue
        new_state, same, different, progress = expected  # type: ignore[misc]
        assert outcome.result is S
        assert outcome.reason is None
        assert outcome.state is new_state
        assert outcome.effect is (different if parameters is Parameters.DIFFERENT else same)
        assert outcome.progress is progress
        assert outcome.active is (new_state is ASSOC)


ILLEGAL = [pair for pair in ALL_PAIRS if isinstance(EXPECTED[pair], ReplyReason)]


@pytest.mark.parametrize("pair", ILLEGAL, ids=_label)
def test_illegal_transition_fails_without_change(pair: tuple[VMState | None, Step]) -> None:
    state, step = pair
    outcome = decide(state, step)
    assert (outcome.result, outcome.state, outcome.effect) == (F, state, E.NONE)
    # unknown-vm exactly when the VM has no state; invalid-state otherwise
    assert outcome.reason is (UNKNOWN if state is None else INVALID)


def test_suspend_only_from_associated() -> None:
    assert allowed_from(Step.SUSPEND) == {ASSOC}


def test_emigrate_from_pre_associated_associated_suspended() -> None:
    assert allowed_from(Step.EMIGRATE) == {PRE, ASSOC, SUSP}


def test_resume_outside_suspended_succeeds_and_changes_nothing() -> None:
    for state in (NONE, PRE, ASSOC, IMMIG):
        outcome = decide(state, Step.RESUME)
        assert (outcome.result, outcome.state, outcome.effect) == (S, state, E.NONE)
    # ...except that an emigrating VM resumes here: its migration failed (sec. 3.2.6)
    assert decide(EMIG, Step.RESUME).state is ASSOC


def test_terminate_and_aging_release_everything() -> None:
    for state in (PRE, ASSOC, SUSP, EMIG, IMMIG):
        for step in (Step.TERMINATE, Step.AGED_OUT):
            outcome = decide(state, step)
            assert (outcome.state, outcome.effect) == (None, E.RELEASE)


def test_associate_after_pre_associate_activates_or_replaces() -> None:
    assert decide(PRE, Step.ASSOCIATE, Parameters.SAME).effect is E.ACTIVATE
    assert decide(PRE, Step.ASSOCIATE, Parameters.DIFFERENT).effect is E.REPLACE


def test_repeated_associate_refreshes_or_updates() -> None:
    assert decide(ASSOC, Step.ASSOCIATE, Parameters.SAME).effect is E.REFRESH
    assert decide(ASSOC, Step.ASSOCIATE, Parameters.DIFFERENT).effect is E.REPLACE


def test_migration_flag() -> None:
    for pair in ((NONE, Step.IMMIGRATE_PRE_ASSOCIATE), (NONE, Step.IMMIGRATE_ASSOCIATE),
                 (ASSOC, Step.EMIGRATE), (SUSP, Step.EMIGRATE), (PRE, Step.EMIGRATE)):
        assert decide(*pair).migrating is True
    assert decide(EMIG, Step.ASSOCIATE, Parameters.SAME).migrating is False
    assert decide(ASSOC, Step.ASSOCIATE, Parameters.SAME).migrating is False
    assert decide(ASSOC, Step.KEEP_ALIVE).migrating is None  # left as it was
    assert decide(ASSOC, Step.SUSPEND).migrating is False


@pytest.mark.parametrize(("event", "phase", "step"), [
    (VMEvent.IMMIGRATE, ImmigrationPhase.PRE_ASSOCIATE, Step.IMMIGRATE_PRE_ASSOCIATE),
    (VMEvent.IMMIGRATE, ImmigrationPhase.ASSOCIATE, Step.IMMIGRATE_ASSOCIATE),
    (VMEvent.IMMIGRATE, None, Step.IMMIGRATE_ASSOCIATE),
    (VMEvent.SUSPEND, None, Step.SUSPEND),
    (VMEvent.AGED_OUT, None, Step.AGED_OUT),
])
def test_step_for(event: VMEvent, phase: ImmigrationPhase | None, step: Step) -> None:
    assert step_for(event, phase) is step
    assert step.event is event


def test_steps_carrying_parameters() -> None:
    assert {s for s in Step if s.carries_parameters} == {
        Step.PRE_ASSOCIATE, Step.ASSOCIATE, Step.IMMIGRATE_PRE_ASSOCIATE,
        Step.IMMIGRATE_ASSOCIATE,
    }
