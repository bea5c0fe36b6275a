"""Pricing decisions: each row's cost of a decision, under a constant cost matrix or each row's
own costs, and the trivial policies priced the same way.

A split's decisions are priced per label by a :data:`Pricing`: one ``CostMatrix`` per label
(constant costs) or one :class:`~steps.cost_expressions.RowCosts` per label (per-row costs,
read from the split's cost columns). Evaluate prices models, trivial policies and the champion
with the same functions, so they are compared on the same terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steps.cost_expressions import CostSpec, RowCosts, costs_from_split
from steps.costs import CostMatrix
from steps.errors import InputError

Pricing = list[CostMatrix | RowCosts]


def split_pricing(
    frame: Any, labels: list[str], specs: dict[str, CostSpec], per_row: bool
) -> Pricing:
    """How a split's decisions are priced, per label: each row's costs (its cost columns)
    under per-row costs, else each label's constant cost matrix."""
    if per_row:
        return [costs_from_split(frame, label) for label in labels]
    return [CostMatrix(**specs[label].matrix) for label in labels]


def price(cost: CostMatrix | RowCosts, y: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """Each row's cost of one label's 0/1 decisions given its truth."""
    if isinstance(cost, RowCosts):
        return cost.of(y, decisions)
    y, d = np.asarray(y) == 1, np.asarray(decisions) == 1
    return np.select([y & d, ~y & d, y & ~d], [cost.tp, cost.fp, cost.fn], default=cost.tn)


def row_costs(Y: np.ndarray, D: np.ndarray, pricing: Pricing) -> np.ndarray:
    """Each row's cost: the sum over its labels of the cost of that label's outcome."""
    Y, D = np.asarray(Y), np.asarray(D)
    costs = np.zeros(Y.shape[0])
    for index, cost in enumerate(pricing):
        costs += price(cost, Y[:, index], D[:, index])
    return costs


def baseline_costs(cost: CostMatrix | RowCosts, y: np.ndarray) -> dict[str, float]:
    """One label's trivial policies (everything negative, everything positive), priced like
    its decisions: per row, or from the class counts and the matrix."""
    y = np.asarray(y)
    if isinstance(cost, RowCosts):
        if y.size == 0:
            raise InputError("baseline costs need at least one decision, got none")
        return {
            "all_negative": float(price(cost, y, np.zeros(y.size)).mean()),
            "all_positive": float(price(cost, y, np.ones(y.size)).mean()),
        }
    return cost.baseline_costs(int(y.sum()), int((y == 0).sum()))
