"""Inputs for XGBoost's linear booster: one-hot categories, standardised columns.

Trees split on any scale and take pandas categories as they are; a linear model does neither.
``gblinear`` penalises every weight alike (``lambda``), so columns are put on one scale first,
and it takes no categorical columns, so each category level becomes a 0/1 column. The state
(levels, means and scales over the training rows) is plain JSON saved with the model and applied
to every row scored later, never refitted.

Missing values stay missing: the linear booster skips them, which after centring is the same
as scoring the training mean. A missing or unseen category level is missing in every one of
its 0/1 columns for the same reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from steps.errors import InputError


def _one_hot(features: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """Numeric columns as they are, each categorical column as one 0/1 column per level."""
    blocks = []
    for name in features.columns:
        column = features[name]
        if name not in levels:
            blocks.append(pd.to_numeric(column, errors="raise").astype(np.float64).rename(name))
            continue
        codes = pd.Index(levels[name]).get_indexer(column.astype(object))  # -1: missing, unseen
        indicators = (codes[:, None] == np.arange(len(levels[name]))[None, :]).astype(np.float64)
        indicators[codes < 0] = np.nan
        blocks.append(
            pd.DataFrame(
                indicators,
                index=features.index,
                # Numbered, not named: a level can be any text, and two levels must never
                # give one name.
                columns=[f"{name}={index}" for index in range(len(levels[name]))],
            )
        )
    return pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=features.index)


def fit_linear_inputs(features: pd.DataFrame) -> dict[str, Any]:
    """Levels, means and scales of ``features`` (the rows a model trains on), as JSON.

    Examples
    --------
    >>> frame = pd.DataFrame({"x": [1.0, 3.0], "c": pd.Categorical(["a", "b"])})
    >>> state = fit_linear_inputs(frame)
    >>> state["columns"], state["means"], state["scales"]
    (['x', 'c=0', 'c=1'], [2.0, 0.5, 0.5], [1.0, 0.5, 0.5])
    >>> linear_inputs(frame, state).to_numpy().tolist()
    [[-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]
    """
    levels = {
        name: [str(level) for level in features[name].cat.categories]
        for name in features.columns
        if isinstance(features[name].dtype, pd.CategoricalDtype)
    }
    encoded = _one_hot(features, levels)
    means = encoded.mean(skipna=True).fillna(0.0)
    scales = encoded.std(ddof=0, skipna=True)
    # A constant (or never observed) column carries no information: scale 1 keeps it at 0.
    scales = scales.where(scales > 0, 1.0).fillna(1.0)
    return {
        "features": list(features.columns),
        "levels": levels,
        "columns": list(encoded.columns),
        "means": [float(v) for v in means],
        "scales": [float(v) for v in scales],
    }


def linear_inputs(features: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
    """``features`` encoded and standardised with a saved state."""
    if list(features.columns) != state["features"]:
        raise InputError(
            "the linear model's inputs differ from the columns it was trained on: give data "
            "with the same columns"
        )
    levels = {name: list(values) for name, values in state["levels"].items()}
    encoded = _one_hot(features, levels)
    standardised = (encoded.to_numpy() - np.asarray(state["means"])) / np.asarray(state["scales"])
    return pd.DataFrame(
        standardised.astype(np.float32), index=features.index, columns=state["columns"]
    )
