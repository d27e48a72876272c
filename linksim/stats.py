"""Confidence intervals for Monte-Carlo estimates.

Every metric linksim reports carries a 95 % (by default) confidence interval computed
from accumulated counts or sums, never from averaged averages:

* proportions (BER, BLER, accuracy): Wilson score or Clopper-Pearson (exact) interval;
* means (PSNR, MSE, SSIM): Student-t interval from the sum and sum of squares;
* means over independent runs (training seeds): Student-t interval from the spread
  between runs, with that spread (the sample standard deviation) kept for tables.

Note on coded BER: bit errors inside one decoded block are not independent, so a
binomial interval over bits is optimistic for coded links; the BLER interval (over
independent blocks) is the honest one there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

from scipy import stats as _st


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval (``nan`` where undefined).

    ``std`` is the sample standard deviation between independent runs where the estimate
    is a mean over runs (:func:`mean_of_runs`), else ``nan``.
    """

    value: float
    ci_low: float
    ci_high: float
    std: float = math.nan

    @property
    def half_width(self) -> float:
        return 0.5 * (self.ci_high - self.ci_low)


def _z(confidence: float) -> float:
    return float(_st.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(successes: float, trials: float, confidence: float = 0.95) -> Tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / trials``."""
    if trials <= 0:
        return (math.nan, math.nan)
    z = _z(confidence)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denom
    half = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denom
    # The interval contains p; at k = 0 (k = n) its lower (upper) end is exactly 0 (1),
    # which floating-point rounding of centre -/+ half would miss by about 1e-17.
    low = 0.0 if successes <= 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes >= trials else min(1.0, max(p, centre + half))
    return (low, high)


def clopper_pearson_interval(successes: float, trials: float, confidence: float = 0.95) -> Tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion."""
    if trials <= 0:
        return (math.nan, math.nan)
    alpha = 1.0 - confidence
    k, n = float(successes), float(trials)
    low = 0.0 if k <= 0 else float(_st.beta.ppf(alpha / 2.0, k, n - k + 1.0))
    high = 1.0 if k >= n else float(_st.beta.ppf(1.0 - alpha / 2.0, k + 1.0, n - k))
    return (low, high)


PROPORTION_INTERVALS = {"wilson": wilson_interval, "clopper_pearson": clopper_pearson_interval}


def proportion(successes: float, trials: float, method: str = "wilson", confidence: float = 0.95) -> Estimate:
    """Estimate of ``successes / trials`` with the named interval method."""
    if trials <= 0:
        return Estimate(math.nan, math.nan, math.nan)
    low, high = PROPORTION_INTERVALS[method](successes, trials, confidence)
    return Estimate(successes / trials, low, high)


def mean_t(total: float, total_sq: float, count: float, confidence: float = 0.95) -> Estimate:
    """Mean with a Student-t interval from ``sum x``, ``sum x^2`` and ``count``."""
    if count <= 0:
        return Estimate(math.nan, math.nan, math.nan)
    mean = total / count
    if count < 2:
        return Estimate(mean, math.nan, math.nan)
    var = max(0.0, (total_sq - count * mean * mean) / (count - 1.0))
    half = float(_st.t.ppf(0.5 + confidence / 2.0, count - 1.0)) * math.sqrt(var / count)
    return Estimate(mean, mean - half, mean + half)


def mean_of_runs(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean of one number per independent run (e.g. a model's accuracy per training seed).

    The interval is Student-t with ``len(values) - 1`` degrees of freedom from the spread
    between runs (what a new seed would give, not the Monte-Carlo error of each run);
    ``std`` is that spread (ddof 1). One run: the value, interval and std ``nan``.
    """
    runs = [float(v) for v in values]
    if not runs:
        return Estimate(math.nan, math.nan, math.nan)
    count = float(len(runs))
    estimate = mean_t(sum(runs), sum(v * v for v in runs), count, confidence)
    if count < 2:
        return estimate
    mean = estimate.value
    std = math.sqrt(max(0.0, sum((v - mean) ** 2 for v in runs) / (count - 1.0)))
    return Estimate(mean, estimate.ci_low, estimate.ci_high, std)
