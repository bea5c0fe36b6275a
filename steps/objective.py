"""The asymmetric loss: logistic loss with ``fn_weight`` on positive rows, ``fp_weight`` on
negative rows.

Two implementations of the same loss:

* :func:`asymmetric_logistic_objective`, a custom XGBoost objective (gradient and hessian),
  the reference that states the loss explicitly;
* :func:`class_weights` given to XGBoost's built-in ``binary:logistic`` as sample weights, the
  fast path (the gradient runs in XGBoost's C++ code) and the one the training job uses by
  default. Its boosters are ordinary ``binary:logistic`` boosters, but the stock container's
  algorithm-mode server still cannot serve our models: it loads every file of ``model.tar.gz``
  as a booster, averages them and cuts at 0.5, losing the fold mean, the input transforms and
  the tuned threshold.

For a row with label y, margin m and p = sigmoid(m), the weighted loss is
``-w_y (y log p + (1 - y) log(1 - p))``, whose gradient and hessian in m are
``w_y (p - y)`` and ``w_y p (1 - p)``.

Both give the same trees when both see the same split candidates: with ``tree_method="exact"``,
or ``hist`` with at least as many bins as distinct feature values (weights move the weighted
quantile sketch of ``hist`` otherwise). ``base_score`` must be set explicitly: a probability
for the built-in objective, the matching margin (its logit) for the custom one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from steps.errors import InputError

_HESSIAN_FLOOR = 1e-16

Objective = Callable[[np.ndarray, "object"], tuple[np.ndarray, np.ndarray]]


def class_weights(y: np.ndarray, fn_weight: float, fp_weight: float) -> np.ndarray:
    """Per-row weights: ``fn_weight`` for positives (y = 1), ``fp_weight`` for negatives."""
    if fn_weight <= 0 or fp_weight <= 0:
        raise InputError(
            f"weights must be positive, got fn_weight={fn_weight}, fp_weight={fp_weight}"
        )
    return np.where(np.asarray(y) == 1, float(fn_weight), float(fp_weight))


def weighted_prior(
    y: np.ndarray, fn_weight: float, fp_weight: float, row_weights: np.ndarray | None = None
) -> float:
    """The weighted share of positives: the constant probability minimising the loss.

    Used as ``base_score`` so that boosting starts from the best constant model. With per-row
    costs ``row_weights`` (each row's cost of a wrong decision) multiply the class weights.
    """
    from steps.collective import summed

    weights = class_weights(y, fn_weight, fp_weight)
    if row_weights is not None:
        weights = weights * np.asarray(row_weights, dtype=np.float64)
    # Over every host's rows when training across instances: all hosts start from one prior.
    positive, total = summed(np.array([np.sum(weights * (np.asarray(y) == 1)), np.sum(weights)]))
    prior = float(positive / total)
    # Keep the start strictly inside (0, 1): a margin of +-inf would never move.
    return min(max(prior, 1e-6), 1 - 1e-6)


def logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


def sigmoid(margin: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large negative margins."""
    margin = np.asarray(margin, dtype=np.float64)
    out = np.empty_like(margin)
    positive = margin >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-margin[positive]))
    exp_margin = np.exp(margin[~positive])
    out[~positive] = exp_margin / (1.0 + exp_margin)
    return out


def asymmetric_logistic_objective(
    fn_weight: float, fp_weight: float, label_weights: np.ndarray | None = None
) -> Objective:
    """A custom XGBoost objective for the asymmetric logistic loss.

    The returned function takes the current margins and the training ``DMatrix`` and returns
    the gradient and hessian per row. Sample weights already on the ``DMatrix`` (each row's
    cost of a wrong decision, under per-row costs) multiply the class weights; so do
    ``label_weights`` (rows x labels), which give a multi-output booster each row's weight per
    label (a ``DMatrix`` holds one weight per row).

    Examples
    --------
    >>> import xgboost as xgb
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> objective = asymmetric_logistic_objective(fn_weight=5, fp_weight=1)
    >>> grad, hess = objective(np.zeros(4), xgb.DMatrix(X, label=y))
    >>> grad.tolist(), hess.tolist()
    ([0.5, 0.5, -2.5, -2.5], [0.25, 0.25, 1.25, 1.25])
    """
    if fn_weight <= 0 or fp_weight <= 0:
        raise InputError(
            f"weights must be positive, got fn_weight={fn_weight}, fp_weight={fp_weight}"
        )

    from scipy.special import expit  # scipy comes with xgboost and scikit-learn

    # Labels and weights do not change between rounds: read them once per training matrix, and
    # reuse the output arrays (XGBoost copies the gradients before asking for the next round).
    cache: dict = {}

    def objective(margins: np.ndarray, dtrain: object) -> tuple[np.ndarray, np.ndarray]:
        margins = np.asarray(margins)
        key = (dtrain.handle.value, margins.shape)  # type: ignore[attr-defined]
        if cache.get("key") != key:
            # Multi-output training passes a rows x labels matrix; labels come flattened.
            y = dtrain.get_label().reshape(margins.shape).astype(np.float64)  # type: ignore[attr-defined]
            weights = class_weights(y, fn_weight, fp_weight)
            sample_weights = dtrain.get_weight()  # type: ignore[attr-defined]
            if sample_weights.size:
                weights *= sample_weights[:, None] if y.ndim == 2 else sample_weights
            if label_weights is not None:
                weights *= np.asarray(label_weights, dtype=np.float64).reshape(y.shape)
            buffers = [np.empty(margins.shape, dtype=np.float64) for _ in range(3)]
            cache.update(key=key, y=y, weights=weights, buffers=buffers)
        y, weights = cache["y"], cache["weights"]
        p, grad, hess = cache["buffers"]

        def rows(block: slice) -> None:
            # float64 (XGBoost rounds what it receives to float32), stable for large margins:
            # float32 margins in, float64 out, in one pass.
            expit(margins[block], out=p[block], dtype=np.float64)
            np.subtract(p[block], y[block], out=grad[block])
            grad[block] *= weights[block]
            # The built-in objective floors the hessian the same way, so saturated rows agree.
            np.subtract(1.0, p[block], out=hess[block])
            hess[block] *= p[block]
            np.maximum(hess[block], _HESSIAN_FLOOR, out=hess[block])
            hess[block] *= weights[block]

        blocks = _row_blocks(margins.shape[0])
        if len(blocks) == 1:
            rows(blocks[0])
        else:
            # numpy's ufuncs release the GIL: the job's cores share the work, as in XGBoost.
            list(_pool(len(blocks)).map(rows, blocks))
        return grad, hess

    return objective


#: Below this many rows the objective runs in one thread (threads would cost more than they save).
_PARALLEL_ROWS = 100_000
_POOLS: dict = {}


def _threads() -> int:
    """The cores this job may use: OMP_NUM_THREADS (which the local executor sets) or all."""
    import os

    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


def _row_blocks(count: int) -> list:
    parts = min(_threads(), max(1, count // _PARALLEL_ROWS))
    edges = np.linspace(0, count, parts + 1).astype(int)
    return [slice(start, stop) for start, stop in itertools.pairwise(edges)]


def _pool(size: int) -> object:
    from concurrent.futures import ThreadPoolExecutor

    if size not in _POOLS:
        _POOLS[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="objective")
    return _POOLS[size]
