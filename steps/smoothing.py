"""Cost-optimal thresholds from smoothed score distributions.

When a missed positive costs far more than a false alarm, the empirical cost sweep puts the
threshold just below the lowest-scored positive it was tuned on: below that score it has never
seen a positive, so it believes none exist. The next positive scoring a little lower is missed,
and at a cost ratio of 168:1 one miss undoes 168 saved false alarms. Estimating each class's
score distribution with a Gaussian kernel on the logit scale gives the tails the mass a finite
sample cannot show, and the threshold that minimises the expected cost under those
distributions sits where the two classes' densities, weighed by their costs, balance.

The bandwidth is Silverman's rule of thumb for each class. scipy's ``gaussian_kde`` evaluates
the distribution exactly at every point in O(n x points); this bins the logit scores on a grid
(linear binning, as KernSmooth's ``bkde`` does) and convolves the bins with the kernel's
cumulative distribution once, so it costs O(n + grid^2) whatever the number of rows (the grid
has 1,024 to 8,192 points: a few milliseconds to a few tenths of a second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit, ndtr  # scipy comes with xgboost and scikit-learn

from steps.costs import CostMatrix
from steps.sweep import ThresholdCurve, checked_scores

# The grid has at least MIN_GRID_POINTS points, and spacing at most a fifth of the narrower
# bandwidth (linear binning then moves each CDF by about 1e-3), up to MAX_GRID_POINTS; a
# bandwidth narrower than five grid steps (a class whose few scores nearly coincide) is
# widened to five steps, so the error bound holds for the bandwidths reported.
MIN_GRID_POINTS = 1024
MAX_GRID_POINTS = 8192
POINTS_PER_BANDWIDTH = 5
# Grid margin beyond the extreme scores, in bandwidths: the kernel's mass past 5 is 3e-7.
MARGIN_BANDWIDTHS = 5.0
# Scores are clipped to (LOGIT_CLIP, 1 - LOGIT_CLIP) so that logits stay finite; float32
# probabilities from XGBoost resolve about 1e-7 near 1.
LOGIT_CLIP = 1e-7


@dataclass(frozen=True)
class SmoothedCost(ThresholdCurve):
    """Expected cost per decision on a grid of thresholds under smoothed score distributions.

    ``thresholds`` ascend; ``costs[i]`` is the expected cost of calling positive every score
    ``>= thresholds[i]``. ``bandwidths`` are the kernel widths (logit scale) for the
    negatives and the positives.
    """

    thresholds: np.ndarray
    costs: np.ndarray
    bandwidths: tuple[float, float]

    @property
    def best_index(self) -> int:
        return int(np.argmin(self.costs))


def silverman_bandwidth(values: np.ndarray) -> float:
    """Silverman's rule of thumb, 0.9 min(sd, IQR / 1.34) n^(-1/5); 0 without spread."""
    if values.size < 2:
        return 0.0
    sd = float(np.std(values, ddof=1))
    q75, q25 = np.percentile(values, [75, 25])
    iqr = float(q75 - q25)
    spread = min(sd, iqr / 1.34) if iqr > 0 else sd
    return 0.9 * spread * values.size**-0.2


def _binned_weights(values: np.ndarray, start: float, step: float, points: int) -> np.ndarray:
    """Linear binning: each value splits its unit weight between the two nearest grid points."""
    position = (values - start) / step
    left = np.clip(np.floor(position).astype(np.int64), 0, points - 2)
    right_share = np.clip(position - left, 0.0, 1.0)
    weights = np.bincount(left, weights=1.0 - right_share, minlength=points)
    weights += np.bincount(left + 1, weights=right_share, minlength=points)
    return weights / values.size


def _smoothed_cdf(weights: np.ndarray, step: float, bandwidth: float) -> np.ndarray:
    """P(value < grid[j]) for the binned values smoothed by a Gaussian of ``bandwidth``."""
    points = weights.size
    offsets = np.arange(-(points - 1), points) * step
    kernel_cdf = ndtr(offsets / bandwidth)
    # cdf[j] = sum_k weights[k] * Phi((grid[j] - grid[k]) / h): entries points-1 .. 2 points-2
    # of the full convolution of the weights with the kernel's CDF at every grid offset.
    return np.convolve(weights, kernel_cdf)[points - 1 : 2 * points - 1]


def smoothed_cost(
    y_true: np.ndarray,
    scores: np.ndarray,
    matrix: CostMatrix,
) -> SmoothedCost | None:
    """Expected cost at each threshold of a grid, under kernel-smoothed score distributions.

    Returns None when a class has fewer than two distinct scores: no spread to smooth, so
    the caller keeps the empirical sweep.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([1, 0], [300, 700])
    >>> z = np.where(y == 1, rng.normal(2.0, 1.0, y.size), rng.normal(-2.0, 1.0, y.size))
    >>> matrix = CostMatrix(tp=0.0, fp=1.0, fn=10.0, tn=0.0)
    >>> curve = smoothed_cost(y, 1 / (1 + np.exp(-z)), matrix)
    >>> round(float(logit(curve.best_threshold)), 1)  # the true optimum is -0.36
    -0.4
    """
    labels, s = checked_scores(y_true, scores)  # the sweep's checks, without its sort
    y = labels.astype(bool)
    z = logit(np.clip(s.astype(np.float64), LOGIT_CLIP, 1 - LOGIT_CLIP))
    z_neg, z_pos = z[~y], z[y]
    # Two distinct values at least in each class, or there is no spread to smooth.
    if min(z_neg.size, z_pos.size) < 2 or np.ptp(z_neg) == 0 or np.ptp(z_pos) == 0:
        return None
    silverman = (silverman_bandwidth(z_neg), silverman_bandwidth(z_pos))
    margin = MARGIN_BANDWIDTHS * max(silverman)
    start, stop = float(z.min() - margin), float(z.max() + margin)
    wanted = (stop - start) * POINTS_PER_BANDWIDTH / min(silverman)
    grid_points = int(np.clip(np.ceil(wanted) + 1, MIN_GRID_POINTS, MAX_GRID_POINTS))
    grid = np.linspace(start, stop, grid_points)
    step = float(grid[1] - grid[0])
    bandwidths = tuple(max(h, POINTS_PER_BANDWIDTH * step) for h in silverman)
    neg_below, pos_below = (
        _smoothed_cdf(_binned_weights(values, start, step, grid_points), step, h)
        for values, h in zip((z_neg, z_pos), bandwidths, strict=True)
    )
    costs = (
        z_pos.size * (pos_below * matrix.fn + (1 - pos_below) * matrix.tp)
        + z_neg.size * (neg_below * matrix.tn + (1 - neg_below) * matrix.fp)
    ) / z.size
    return SmoothedCost(expit(grid), costs, bandwidths)
