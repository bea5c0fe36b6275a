"""Shared fixtures: the breast-cancer data that ships with scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer


@pytest.fixture(scope="session")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Features (569 x 30) and labels with malignant = 1 (212 positives)."""
    X, target = load_breast_cancer(return_X_y=True)
    return X, (target == 0).astype(np.int64)


@pytest.fixture(scope="session")
def breast_cancer_frame() -> pd.DataFrame:
    """The same data as a table with a 'diagnosis' column holding 'M' or 'B'."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame["diagnosis"] = np.where(data.target == 0, "M", "B")
    return frame
