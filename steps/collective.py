"""Training across instances: the job's hosts joined in XGBoost's own collective.

SageMaker starts the training module on every instance of a job with the same arguments;
``SM_HOSTS`` lists the job's hosts (``["algo-1", "algo-2"]``) and ``SM_CURRENT_HOST`` names this
one. With several hosts, the first one starts XGBoost's tracker
(``xgboost.tracker.RabitTracker``), every host (the first one too) joins the communication group
through it (``xgboost.collective.CommunicatorContext``), and ``xgboost.train`` then grows one
booster: each host computes the gradients of its own rows, the gradient histograms are summed
across hosts, and every host ends with the same trees. The few statistics the training job
computes from its rows itself (the weighted prior, the class counts, the mean per-row cost) are
summed across hosts with :func:`summed` for the same reason.

Host names resolve through ``/etc/hosts`` in SageMaker's containers. The local executor, which
runs the hosts as processes on one machine, names their addresses in
``COSTPIPE_HOST_ADDRESSES`` (all loopback) and gives each job its own tracker port in
``COSTPIPE_TRACKER_PORT``, since several training jobs share the machine; on SageMaker the
tracker listens on the stock container's port, 9099.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from steps.errors import InputError

#: What the local executor sets instead of /etc/hosts and a port of the instance's own.
HOST_ADDRESSES_VARIABLE = "COSTPIPE_HOST_ADDRESSES"
TRACKER_PORT_VARIABLE = "COSTPIPE_TRACKER_PORT"
#: The stock XGBoost container's tracker port (sagemaker_xgboost_container/distributed.py).
DEFAULT_TRACKER_PORT = 9099
#: Seconds a host may take to find the tracker and the others to join it.
DEFAULT_TIMEOUT = 600
#: Pause between attempts to reach a tracker that is not listening yet.
_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Hosts:
    """The training job's hosts, in SageMaker's order, and the one this process runs on."""

    names: tuple[str, ...]
    current: str

    @classmethod
    def from_environment(cls) -> Hosts:
        """``SM_HOSTS`` and ``SM_CURRENT_HOST``; one host when they are not set (run by hand)."""
        text = os.environ.get("SM_HOSTS", "")
        current = os.environ.get("SM_CURRENT_HOST", "")
        if not text:
            return cls((current or "algo-1",), current or "algo-1")
        try:
            names = json.loads(text)
        except ValueError:
            names = None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InputError(f"SM_HOSTS is not a JSON list of host names: {text!r}")
        if len(names) == 1 and not current:
            current = names[0]
        if current not in names:
            raise InputError(f"SM_CURRENT_HOST {current!r} is not one of SM_HOSTS {names}")
        return cls(tuple(names), current)

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def rank(self) -> int:
        """This host's place in the group: the tracker ranks hosts by their SM_HOSTS order."""
        return self.names.index(self.current)

    @property
    def first(self) -> str:
        return self.names[0]

    @property
    def is_first(self) -> bool:
        """The host that runs the tracker and writes the model folder."""
        return self.current == self.first


def host_address(name: str, deadline: float) -> str:
    """The IP address of host ``name``: from the local executor's map, else the resolver.

    SageMaker writes ``/etc/hosts`` as the instances come up, so a name that does not resolve
    yet is retried until ``deadline`` (as the stock container's ``_dns_lookup`` does).
    """
    mapped = os.environ.get(HOST_ADDRESSES_VARIABLE, "")
    if mapped:
        addresses = json.loads(mapped)
        if name not in addresses:
            raise InputError(f"{HOST_ADDRESSES_VARIABLE} names no address for host {name!r}")
        return str(addresses[name])
    while True:
        try:
            return socket.gethostbyname(name)
        except OSError as error:
            if time.monotonic() >= deadline:
                raise InputError(
                    f"host {name!r} does not resolve ({error}): the job's hosts must reach each "
                    "other by their SM_HOSTS names"
                ) from None
            time.sleep(_RETRY_SECONDS)


def tracker_port() -> int:
    text = os.environ.get(TRACKER_PORT_VARIABLE, "")
    return int(text) if text else DEFAULT_TRACKER_PORT


@contextlib.contextmanager
def joined(hosts: Hosts, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Within this block every host is a member of one XGBoost communication group.

    With one host it does nothing. With several, the first host starts the tracker; every
    host joins it, retrying while the tracker is not listening yet, and fails with the reason
    when the group has not formed within ``timeout`` seconds. Call it on every host in the same
    place: a host that never joins makes the others fail once the timeout has passed.
    """
    if hosts.count == 1:
        yield
        return
    from xgboost import collective
    from xgboost.core import XGBoostError
    from xgboost.tracker import RabitTracker

    seconds = max(1, int(timeout))
    deadline = time.monotonic() + seconds
    address = host_address(hosts.first, deadline)
    port = tracker_port()
    where = f"the tracker on {hosts.first} ({address}:{port})"
    tracker = None
    if hosts.is_first:
        try:
            # Ranks follow the task ids, zero-padded because the tracker sorts them as text.
            tracker = RabitTracker(
                n_workers=hosts.count, host_ip=address, port=port, sortby="task", timeout=seconds
            )
            tracker.start()
        except XGBoostError as error:
            raise InputError(f"{where} did not start: {_first_line(error)}") from None
    arguments = {
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": f"{hosts.rank:05d}",
        # XGBoost's own retries back off exponentially; the deadline is kept here instead.
        "dmlc_retry": 1,
    }
    while True:
        try:
            with warnings.catch_warnings():
                # Each refused attempt is also a warning; the last failure is the reason.
                warnings.simplefilter("ignore")
                collective.init(**arguments)
            break
        except XGBoostError as error:
            if hosts.is_first or time.monotonic() >= deadline:
                _free(tracker)
                if hosts.is_first:
                    raise InputError(
                        f"the {hosts.count} hosts did not all join {where} within {seconds} s: a "
                        f"host did not start or cannot reach {hosts.first} "
                        f"({_first_line(error)})"
                    ) from None
                raise InputError(
                    f"host {hosts.current} could not reach {where} within {seconds} s "
                    f"({_first_line(error)})"
                ) from None
            time.sleep(_RETRY_SECONDS)
    try:
        rank, size = collective.get_rank(), collective.get_world_size()
        if (rank, size) != (hosts.rank, hosts.count):
            raise InputError(
                f"host {hosts.current} joined as rank {rank} of {size}, expected rank "
                f"{hosts.rank} of {hosts.count}: the hosts disagree on SM_HOSTS"
            )
        yield
    except BaseException:
        # Leave the group before the error ends the process: exiting while still a member
        # crashed the interpreter (SIGSEGV) instead of exiting with the error. The other hosts
        # learn from the closed connections and fail too. The tracker is freed here, or its
        # destructor would print a later error than this one.
        with contextlib.suppress(XGBoostError):
            collective.finalize()
        _free(tracker)
        raise
    collective.finalize()
    if tracker is not None:
        with contextlib.suppress(XGBoostError):
            tracker.wait_for(timeout=seconds)
        _free(tracker)


def _free(tracker: object | None) -> None:
    if tracker is not None:
        from xgboost.core import XGBoostError

        with contextlib.suppress(XGBoostError):
            tracker.free()  # type: ignore[attr-defined]


def _first_line(error: Exception) -> str:
    """XGBoost's errors hold a log prefix, a chain of causes and a stack trace: keep the
    innermost cause, which says what failed (refused, timed out)."""
    text = str(error).split("Stack trace:", 1)[0]
    lines = [line.strip(" -") for line in text.splitlines() if line.strip(" -")]
    causes = [line.split("]: ", 1)[-1] for line in lines if "]: " in line]
    return causes[-1] if causes else (lines[0] if lines else type(error).__name__)


def distributed() -> bool:
    """Whether this process is a member of a communication group of several hosts."""
    from xgboost import collective

    return bool(collective.is_distributed())


def summed(values: np.ndarray) -> np.ndarray:
    """``values`` summed element-wise over every host of the group (as float64); as they are
    on one host, so that single-host results stay bit for bit what they were."""
    values = np.asarray(values, dtype=np.float64)
    if not distributed():
        return values
    from xgboost import collective

    return collective.allreduce(values, collective.Op.SUM).reshape(values.shape)


def label_counts(labels: np.ndarray) -> np.ndarray:
    """``[rows, positives of label 0, positives of label 1, ...]`` over every host's rows (a
    rows x labels 0/1 array on each host)."""
    return summed(np.array([len(labels), *np.asarray(labels).sum(axis=0)]))
