"""The VM lifecycle state machine of an NVE, pure: a state and a message in, a decision out.

Implements draft-gu-nvo3-tes-nve-mechanism-01 (seed 003) sec. 3.2 (Figure 4, the VM full
lifecycle), 3.3 (the reaction to each message) and 3.4.3 (Figure 5, the signalling state
machine), with the rules of DESIGN.md "The VM lifecycle state machine". Nothing here
touches resources, clocks or XML: :func:`decide` says what must happen (an
:class:`Outcome`: SUCCESS or FAIL and why, the next state, the :class:`Effect` on the VM's
resources, the migration step reached) and the NVE service (``service.py``) does it.

States are :class:`VMState`; ``None`` stands for "no state" (never signalled,
terminated or aged out). The machine's inputs are :class:`Step` values: one per
:class:`VMEvent`, with immigrate split by phase (Immigration (Pre-Asso) and
Immigration (Asso), seed 003 sec. 3.3.6). A step that carries association parameters
(pre-associate, associate, both immigrations) is told whether they equal the installed
ones (:class:`Parameters`).

The table. A FAIL (``F:`` with its reason: ``inv`` invalid-state, ``unk`` unknown-vm)
never changes anything; a SUCCESS gives the new state and the :class:`Effect`, two
effects ``same|different`` where the step's parameters are compared::

  steps with parameters:
  state / step   pre-associate   associate       imm(pre-assoc)  imm(assoc)
  none           pre   INSTALL   assoc INSTALL   immig INSTALL   assoc INSTALL
  pre-assoc.     pre   REF|REPL  assoc ACT|REPL  immig REF|REPL  assoc ACT|REPL
  associated     F:inv           assoc REF|REPL  F:inv           assoc REF|REPL
  suspended      F:inv           assoc ACT|REPL  F:inv           F:inv
  emigrating     F:inv           assoc ACT|REPL  F:inv           F:inv
  immigrating    F:inv           assoc ACT|REPL  immig REF|REPL  assoc ACT|REPL

  other steps:
  state / step   suspend     resume      emigrate    terminate  keep-alive  aged-out
  none           F:unk       none  -     F:unk       none  -    F:unk       none -
  pre-assoc.     F:inv       pre   -     emig INACT  none  REL  pre   REF   none REL
  associated     susp INACT  assoc -     emig INACT  none  REL  assoc REF   none REL
  suspended      F:inv       assoc ACT   emig INACT  none  REL  susp  REF   none REL
  emigrating     F:inv       assoc ACT   F:inv       none  REL  emig  REF   none REL
  immigrating    F:inv       immig -     F:inv       none  REL  immig REF   none REL

Choices where the seed is silent (each documented on its row in ``_TABLE``):

- a suspend outside associated, and any event the figures do not allow, answers FAIL
  with ``invalid-state`` (nvo3-types, a project extension); suspend, emigrate and
  keep-alive for a VM without state answer ``unknown-vm``;
- resume outside suspended answers SUCCESS and changes nothing (sec. 3.3.4), also for a
  VM without state; but resume of an *emigrating* VM re-activates it: the migration
  failed and "VM has to be resumed on old location" (sec. 3.2.6);
- associate on a suspended VM activates it like an associate after pre-associate ("in
  the state of suspension, NVE acts similar as it in Pre-association state", sec. 3.3.3);
- associate on an emigrating VM cancels the emigration (the migration failed, Figure 4
  "Failed Immigration to other server") and re-activates the VM; so does resume;
- immigrate (either phase) from associated/suspended/emigrating is refused except
  Immigration (Asso) on an associated VM, which Figure 5 draws as a loop on Association;
- terminate of a VM without state answers SUCCESS (there is nothing left to release; the
  VM "can be terminated on the server anyway", sec. 3.3.7);
- emigrate is allowed only from pre-associated, associated and suspended (sec. 3.3.5);
- pre-associate is accepted only without state or on a pre-associated VM: on a VM that
  is (or was) active it would withdraw resources a suspend withdraws explicitly;
- keep-alive refreshes the timer in every state, emigrating included (where the timer is
  the emigration hold time).

Public names: :class:`VMState`, :class:`VMEvent`, :class:`Result`, :class:`ReplyReason`,
:class:`ImmigrationPhase`, :class:`Step`, :class:`Parameters`, :class:`Effect`,
:class:`MigrationPhase`, :class:`Outcome`, :func:`decide`, :func:`step_for`,
:func:`allowed_from`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nvo3_netconf.signalling import (
    ImmigrationPhase,
    MigrationPhase,
    ReplyReason,
    Result,
    VMEvent,
    VMState,
)

__all__ = [
    "Effect",
    "allowed_from",
    "ImmigrationPhase",
    "MigrationPhase",
    "Outcome",
    "Parameters",
    "ReplyReason",
    "Result",
    "Step",
    "VMEvent",
    "VMState",
    "decide",
    "step_for",
]







class Step(Enum):
    """An input of the machine: a lifecycle event, immigrate split by its phase."""

    PRE_ASSOCIATE = "pre-associate"
    ASSOCIATE = "associate"
    IMMIGRATE_PRE_ASSOCIATE = "immigrate(pre-associate)"
    IMMIGRATE_ASSOCIATE = "immigrate(associate)"
    SUSPEND = "suspend"
    RESUME = "resume"
    EMIGRATE = "emigrate"
    TERMINATE = "terminate"
    KEEP_ALIVE = "keep-alive"
    AGED_OUT = "aged-out"

    @property
    def event(self) -> VMEvent:
        """The event reported for this step (both immigrations are ``immigrate``)."""
        if self in (Step.IMMIGRATE_PRE_ASSOCIATE, Step.IMMIGRATE_ASSOCIATE):
            return VMEvent.IMMIGRATE
        return VMEvent(self.value)

    @property
    def carries_parameters(self) -> bool:
        """True for the steps that carry association parameters (VNs, MACs, policies)."""
        return self in _WITH_PARAMETERS


_WITH_PARAMETERS = frozenset({
    Step.PRE_ASSOCIATE, Step.ASSOCIATE, Step.IMMIGRATE_PRE_ASSOCIATE, Step.IMMIGRATE_ASSOCIATE,
})


def step_for(event: VMEvent, phase: ImmigrationPhase | None = None) -> Step:
    """The step of ``event`` (``phase`` only matters for immigrate, default associate)."""
    if event is VMEvent.IMMIGRATE:
        if phase is ImmigrationPhase.PRE_ASSOCIATE:
            return Step.IMMIGRATE_PRE_ASSOCIATE
        return Step.IMMIGRATE_ASSOCIATE
    return Step(event.value)


class Parameters(Enum):
    """How a step's association parameters compare with the installed ones."""

    NONE = "none"
    """The step carries none (suspend, resume...), or the VM has none installed."""
    SAME = "same"
    """Equal to the installed parameters (seed 003 sec. 3.3.2: activate or refresh)."""
    DIFFERENT = "different"
    """They differ: release the old reservation and install the new one."""


class Effect(Enum):
    """What a SUCCESS does to the VM's resources (the service carries it out)."""

    NONE = "none"
    """Nothing changes (besides the timer, which every SUCCESS refreshes)."""
    REFRESH = "refresh"
    """Same parameters again: only the timer is refreshed (seed 003 sec. 3.3.2, 3.3.8)."""
    INSTALL = "install"
    """A new VM: authorize, obtain, install; active when the new state is associated."""
    ACTIVATE = "activate"
    """Keep what is installed and make it active (reserving what is not reserved yet)."""
    REPLACE = "replace"
    """Release the old reservation and install the new parameters, atomically."""
    INACTIVATE = "inactivate"
    """Keep everything but stop forwarding (suspend, emigrate)."""
    RELEASE = "release"
    """Release every resource and remove all state (terminate, aged out)."""



@dataclass(frozen=True)
class Outcome:
    """The machine's decision for one step.

    Attributes:
        result: SUCCESS or FAIL.
        reason: why it failed (None on SUCCESS).
        state: the VM's state afterwards (None: no state); unchanged on FAIL.
        effect: what to do to the VM's resources (``Effect.NONE`` on FAIL).
        migrating: the VM's migration flag afterwards; None leaves it as it was.
        progress: the migration step reached on SUCCESS, if any.
    """

    result: Result
    reason: ReplyReason | None
    state: VMState | None
    effect: Effect
    migrating: bool | None = None
    progress: MigrationPhase | None = None

    @property
    def active(self) -> bool:
        """True when the VM forwards afterwards: only an associated VM does."""
        return self.state is VMState.ASSOCIATED


# A row: (new state, effect with SAME or no parameters, effect with DIFFERENT parameters,
# migrating afterwards, migration progress) for SUCCESS; or a ReplyReason for FAIL.
_Row = tuple[VMState | None, Effect, Effect, bool | None, MigrationPhase | None] | ReplyReason

_PRE = VMState.PRE_ASSOCIATED
_ASSOC = VMState.ASSOCIATED
_SUSP = VMState.SUSPENDED
_EMIG = VMState.EMIGRATING
_IMMIG = VMState.IMMIGRATING
_NOSTATE = None
_INVALID = ReplyReason.INVALID_STATE
_UNKNOWN = ReplyReason.UNKNOWN_VM
_E = Effect
_M = MigrationPhase

_TABLE: dict[tuple[VMState | None, Step], _Row] = {
    # ---- no state: only the steps that bring parameters create one.
    (None, Step.PRE_ASSOCIATE): (_PRE, _E.INSTALL, _E.INSTALL, False, None),
    (None, Step.ASSOCIATE): (_ASSOC, _E.INSTALL, _E.INSTALL, False, None),
    (None, Step.IMMIGRATE_PRE_ASSOCIATE): (
        _IMMIG, _E.INSTALL, _E.INSTALL, True, _M.IMMIGRATION_PREPARED),
    (None, Step.IMMIGRATE_ASSOCIATE): (
        _ASSOC, _E.INSTALL, _E.INSTALL, True, _M.IMMIGRATION_COMPLETED),
    (None, Step.SUSPEND): _UNKNOWN,
    # sec. 3.3.4: a resume that does not follow a suspension is answered SUCCESS.
    (None, Step.RESUME): (_NOSTATE, _E.NONE, _E.NONE, None, None),
    (None, Step.EMIGRATE): _UNKNOWN,
    # sec. 3.3.7: nothing left to release; the VM is gone either way.
    (None, Step.TERMINATE): (_NOSTATE, _E.NONE, _E.NONE, None, None),
    (None, Step.KEEP_ALIVE): _UNKNOWN,
    (None, Step.AGED_OUT): (_NOSTATE, _E.NONE, _E.NONE, None, None),
    # ---- pre-associated (sec. 3.2.2, 3.3.1; Figure 5 "Pre-Association").
    (_PRE, Step.PRE_ASSOCIATE): (_PRE, _E.REFRESH, _E.REPLACE, False, None),
    (_PRE, Step.ASSOCIATE): (_ASSOC, _E.ACTIVATE, _E.REPLACE, False, None),
    (_PRE, Step.IMMIGRATE_PRE_ASSOCIATE): (
        _IMMIG, _E.REFRESH, _E.REPLACE, True, _M.IMMIGRATION_PREPARED),
    (_PRE, Step.IMMIGRATE_ASSOCIATE): (
        _ASSOC, _E.ACTIVATE, _E.REPLACE, True, _M.IMMIGRATION_COMPLETED),
    (_PRE, Step.SUSPEND): _INVALID,  # sec. 3.3.3: only after a successful association
    (_PRE, Step.RESUME): (_PRE, _E.NONE, _E.NONE, None, None),
    (_PRE, Step.EMIGRATE): (_EMIG, _E.INACTIVATE, _E.INACTIVATE, True,
                            _M.EMIGRATION_STARTED),
    (_PRE, Step.TERMINATE): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    (_PRE, Step.KEEP_ALIVE): (_PRE, _E.REFRESH, _E.REFRESH, None, None),
    (_PRE, Step.AGED_OUT): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    # ---- associated (sec. 3.2.3, 3.3.2).
    (_ASSOC, Step.PRE_ASSOCIATE): _INVALID,  # would withdraw active resources: suspend
    (_ASSOC, Step.ASSOCIATE): (_ASSOC, _E.REFRESH, _E.REPLACE, False, None),
    (_ASSOC, Step.IMMIGRATE_PRE_ASSOCIATE): _INVALID,
    # Figure 5 draws Immigration (Asso) as a loop on Association.
    (_ASSOC, Step.IMMIGRATE_ASSOCIATE): (
        _ASSOC, _E.REFRESH, _E.REPLACE, True, _M.IMMIGRATION_COMPLETED),
    (_ASSOC, Step.SUSPEND): (_SUSP, _E.INACTIVATE, _E.INACTIVATE, False, None),
    (_ASSOC, Step.RESUME): (_ASSOC, _E.NONE, _E.NONE, None, None),
    (_ASSOC, Step.EMIGRATE): (_EMIG, _E.INACTIVATE, _E.INACTIVATE, True,
                              _M.EMIGRATION_STARTED),
    (_ASSOC, Step.TERMINATE): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    (_ASSOC, Step.KEEP_ALIVE): (_ASSOC, _E.REFRESH, _E.REFRESH, None, None),
    (_ASSOC, Step.AGED_OUT): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    # ---- suspended (sec. 3.2.4, 3.3.3: the NVE acts as in pre-association).
    (_SUSP, Step.PRE_ASSOCIATE): _INVALID,
    (_SUSP, Step.ASSOCIATE): (_ASSOC, _E.ACTIVATE, _E.REPLACE, False, None),
    (_SUSP, Step.IMMIGRATE_PRE_ASSOCIATE): _INVALID,
    (_SUSP, Step.IMMIGRATE_ASSOCIATE): _INVALID,
    (_SUSP, Step.SUSPEND): _INVALID,
    (_SUSP, Step.RESUME): (_ASSOC, _E.ACTIVATE, _E.ACTIVATE, False, None),
    (_SUSP, Step.EMIGRATE): (_EMIG, _E.INACTIVATE, _E.INACTIVATE, True,
                             _M.EMIGRATION_STARTED),
    (_SUSP, Step.TERMINATE): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    (_SUSP, Step.KEEP_ALIVE): (_SUSP, _E.REFRESH, _E.REFRESH, None, None),
    (_SUSP, Step.AGED_OUT): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    # ---- emigrating (sec. 3.2.6, 3.3.5): inactive, kept until terminate.
    (_EMIG, Step.PRE_ASSOCIATE): _INVALID,
    # Figure 4 "Failed Immigration to other server": the VM is associated here again.
    (_EMIG, Step.ASSOCIATE): (_ASSOC, _E.ACTIVATE, _E.REPLACE, False,
                              _M.EMIGRATION_CANCELLED),
    (_EMIG, Step.IMMIGRATE_PRE_ASSOCIATE): _INVALID,
    (_EMIG, Step.IMMIGRATE_ASSOCIATE): _INVALID,
    (_EMIG, Step.SUSPEND): _INVALID,
    # sec. 3.2.6: "VM has to be resumed on old location".
    (_EMIG, Step.RESUME): (_ASSOC, _E.ACTIVATE, _E.ACTIVATE, False, _M.EMIGRATION_CANCELLED),
    (_EMIG, Step.EMIGRATE): _INVALID,
    (_EMIG, Step.TERMINATE): (_NOSTATE, _E.RELEASE, _E.RELEASE, False,
                              _M.EMIGRATION_COMPLETED),
    (_EMIG, Step.KEEP_ALIVE): (_EMIG, _E.REFRESH, _E.REFRESH, None, None),
    (_EMIG, Step.AGED_OUT): (_NOSTATE, _E.RELEASE, _E.RELEASE, False, None),
    # ---- immigrating (sec. 3.2.6, 3.3.6): installed here, active on Immigration (Asso).
    (_IMMIG, Step.PRE_ASSOCIATE): _INVALID,
    (_IMMIG, Step.ASSOCIATE): (_ASSOC, _E.ACTIVATE, _E.REPLACE, True,
                               _M.IMMIGRATION_COMPLETED),
    (_IMMIG, Step.IMMIGRATE_PRE_ASSOCIATE): (_IMMIG, _E.REFRESH, _E.REPLACE, True, None),
    (_IMMIG, Step.IMMIGRATE_ASSOCIATE): (
        _ASSOC, _E.ACTIVATE, _E.REPLACE, True, _M.IMMIGRATION_COMPLETED),
    (_IMMIG, Step.SUSPEND): _INVALID,
    (_IMMIG, Step.RESUME): (_IMMIG, _E.NONE, _E.NONE, None, None),
    (_IMMIG, Step.EMIGRATE): _INVALID,  # it never ran here
    # Figure 4 "Failed Immigration to this server".
    (_IMMIG, Step.TERMINATE): (_NOSTATE, _E.RELEASE, _E.RELEASE, False,
                               _M.IMMIGRATION_FAILED),
    (_IMMIG, Step.KEEP_ALIVE): (_IMMIG, _E.REFRESH, _E.REFRESH, None, None),
    (_IMMIG, Step.AGED_OUT): (_NOSTATE, _E.RELEASE, _E.RELEASE, False,
                              _M.IMMIGRATION_FAILED),
}


def decide(
    state: VMState | None, step: Step, parameters: Parameters = Parameters.NONE
) -> Outcome:
    """What ``step`` does to a VM in ``state``.

    Args:
        state: the VM's current state, None when the NVE holds none for it.
        step: the message (or the aging timer).
        parameters: for a step carrying association parameters, how they compare with
            the installed ones (SAME or DIFFERENT); NONE otherwise.

    Returns:
        The decision; on FAIL the state is unchanged and the effect is ``Effect.NONE``.
    """
    row = _TABLE[(state, step)]
    if isinstance(row, ReplyReason):
        return Outcome(Result.FAIL, row, state, Effect.NONE)
    new_state, same, different, migrating, progress = row
    effect = different if parameters is Parameters.DIFFERENT else same
    return Outcome(Result.SUCCESS, None, new_state, effect, migrating, progress)


def allowed_from(step: Step) -> frozenset[VMState | None]:
    """The states in which ``step`` answers SUCCESS (for documentation and tests)."""
    return frozenset(
        state for (state, s), row in _TABLE.items()
        if s is step and not isinstance(row, ReplyReason)
    )
