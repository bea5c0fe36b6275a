"""Polling an execution until it ends, for either target, with an injectable clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
STOPPED = "stopped"


@dataclass(frozen=True)
class StepState:
    """One step (or state) of an execution as the service reports it."""

    name: str
    status: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """An execution at one moment.

    ``status`` is the service's own word (``Executing``, ``SUCCEEDED``...); ``outcome`` is one
    of ``running``, ``succeeded``, ``failed``, ``stopped`` for both targets.
    """

    arn: str
    status: str
    outcome: str
    failure_reason: str | None = None
    steps: tuple[StepState, ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        return self.outcome != RUNNING

    def failure_summary(self) -> str:
        """The execution's failure reason followed by each failed step's own reason."""
        parts = [self.failure_reason] if self.failure_reason else []
        for step in self.steps:
            if step.failure_reason and step.failure_reason not in (self.failure_reason or ""):
                parts.append(f"step {step.name}: {step.failure_reason}")
        return "; ".join(parts) or f"the execution ended {self.status} without a reason"


class WaitTimeoutError(Exception):
    """The execution did not end within the time allowed; carries its last snapshot."""

    def __init__(self, snapshot: Snapshot, timeout: float):
        super().__init__(
            f"timed out after {timeout:g} s waiting for {snapshot.arn}: it is still "
            f"{snapshot.status}; run costpipe wait again to keep waiting"
        )
        self.snapshot = snapshot


def wait_for(
    poll: Callable[[], Snapshot],
    timeout: float | None,
    interval: float,
    on_update: Callable[[Snapshot], None] = lambda snapshot: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Snapshot:
    """Poll until the execution ends; raise :class:`WaitTimeoutError` when time runs out.

    Parameters
    ----------
    poll : callable
        Returns the execution's current :class:`Snapshot`.
    timeout : float or None
        Seconds to wait in all; None or 0 waits without limit.
    interval : float
        Seconds between polls.
    on_update : callable, optional
        Called with every snapshot (progress display).
    clock, sleep : callable, optional
        The time source and the pause, replaceable in tests.

    Returns
    -------
    Snapshot
        The first snapshot whose outcome is not ``running``.
    """
    deadline = clock() + timeout if timeout else None
    while True:
        snapshot = poll()
        on_update(snapshot)
        if snapshot.done:
            return snapshot
        if deadline is not None:
            left = deadline - clock()
            if left <= 0:
                raise WaitTimeoutError(snapshot, float(timeout or 0))
            sleep(min(interval, left))
        else:
            sleep(interval)
