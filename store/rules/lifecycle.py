"""Which status changes the desk allows, as data and one pure check."""

from __future__ import annotations

from store.records import Status, TransitionError

S = Status
ALLOWED: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.ACKNOWLEDGED, S.OFFLINE, S.WAITING, S.SNOOZED, S.RESOLVED}),
    S.ACKNOWLEDGED: frozenset({S.OFFLINE, S.WAITING, S.SNOOZED, S.RESOLVED}),
    S.OFFLINE: frozenset({S.ACKNOWLEDGED, S.WAITING, S.SNOOZED, S.RESOLVED}),
    S.WAITING: frozenset({S.NEW, S.ACKNOWLEDGED, S.OFFLINE, S.SNOOZED, S.RESOLVED}),
    S.SNOOZED: frozenset({S.NEW, S.ACKNOWLEDGED, S.OFFLINE, S.WAITING, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.ACKNOWLEDGED, S.NEW}),
    S.CLOSED: frozenset(),
}

_WHY = {
    S.CLOSED: "it is closed; the customer's next post opens a new, linked case",
    S.RESOLVED: "it is resolved; reopen it first",
}


def check_transition(current: Status, target: Status) -> None:
    """Raise TransitionError with a reason unless ``current → target`` is allowed."""
    if current == target:
        raise TransitionError(f"case is already {current.value}")
    if target not in ALLOWED[current]:
        reason = _WHY.get(current)
        if target is S.CLOSED:
            reason = "only a resolved case can be closed (resolve it first)"
        if reason is None:
            reason = f"allowed from {current.value}: " + ", ".join(
                sorted(s.value for s in ALLOWED[current])
            )
        raise TransitionError(f"cannot move case from {current.value} to {target.value}: {reason}")


def customer_wrote(current: Status, ever_acknowledged: bool) -> Status:
    """The status a case takes when its customer writes again ("needs reply")."""
    if current in (S.WAITING, S.SNOOZED, S.RESOLVED):
        return S.ACKNOWLEDGED if ever_acknowledged else S.NEW
    return current
