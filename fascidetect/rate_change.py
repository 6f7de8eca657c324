"""Tests for a change of a fasciculation rate between recordings: two sessions compared
exactly, and a log-linear trend over many.

Counts of discharges over minutes of rest are Poisson (given the rate), so:

* two sessions: the exact conditional test. Given ``n = k_a + k_b`` discharges in all,
  ``k_b`` is binomial with ``p = t_b R / (t_a + t_b R)`` (R the rate ratio), so
  :func:`scipy.stats.binomtest` gives an exact p-value for ``R = 1`` and the
  Clopper-Pearson interval of ``p`` maps to an exact interval of ``R`` (Przyborowski &
  Wilenski 1940; Ulm 1990).
* many sessions: Poisson regression of counts on time with ``log(rest minutes)`` as the
  offset (``log rate = a + b * days``), fitted by iteratively reweighted least squares.
  Rates of one person vary from day to day more than Poisson chance (sleep, exercise,
  caffeine), so the dispersion is estimated from the Pearson residuals and, when above 1,
  widens the interval and turns the likelihood-ratio test into an F test (quasi-Poisson,
  McCullagh & Nelder 1989, sec. 4.5). It is never taken below 1: a stable muscle must
  not look significant because six sessions happened to agree closely.

These are statistics of counted discharges, never a diagnosis.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .errors import ParameterError

#: Iterations and tolerance of the IRLS fit (it converges in under 10 on real counts).
_MAX_ITER = 50
_TOL = 1e-10
#: |coefficient| beyond which the fit is taken to diverge (a rate ratio of e^30).
_DIVERGED = 30.0


@dataclasses.dataclass(frozen=True)
class RateComparison:
    """The exact comparison of two Poisson rates (per minute of rest).

    Attributes
    ----------
    rate_a, rate_b : float
        Rates per minute of the earlier (a) and later (b) session.
    ratio : float
        ``rate_b / rate_a`` (inf when ``rate_a`` is 0 and ``rate_b`` is not, NaN when both are).
    ci_low, ci_high : float
        Exact confidence interval of the ratio.
    p_value : float
        Two-sided exact conditional p-value of ``ratio = 1``.
    count_a, count_b : int
    rest_min_a, rest_min_b : float
    """

    rate_a: float
    rate_b: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    count_a: int
    count_b: int
    rest_min_a: float
    rest_min_b: float


def compare_two_rates(count_a: int, rest_min_a: float, count_b: int, rest_min_b: float,
                      level: float = 0.95) -> RateComparison:
    """Return the exact conditional comparison of two Poisson rates.

    Parameters
    ----------
    count_a, count_b : int
        Discharges counted in the two sessions.
    rest_min_a, rest_min_b : float
        Minutes of rest they were counted over (both > 0).
    level : float
        Confidence level of the ratio's interval.

    Returns
    -------
    RateComparison

    Examples
    --------
    >>> c = compare_two_rates(20, 2.0, 40, 2.0)
    >>> round(c.ratio, 2), c.p_value < 0.05
    (2.0, True)
    """
    from scipy.stats import binomtest

    if not (rest_min_a > 0 and rest_min_b > 0):
        raise ParameterError(f"rest minutes must be positive, got {rest_min_a} and {rest_min_b}")
    if count_a < 0 or count_b < 0:
        raise ParameterError(f"counts must be >= 0, got {count_a} and {count_b}")
    ka, kb = int(count_a), int(count_b)
    ta, tb = float(rest_min_a), float(rest_min_b)
    rate_a, rate_b = ka / ta, kb / tb
    n = ka + kb
    if n == 0:
        return RateComparison(0.0, 0.0, math.nan, 0.0, math.inf, 1.0, ka, kb, ta, tb)
    test = binomtest(kb, n, p=tb / (ta + tb))
    ci = test.proportion_ci(confidence_level=level, method="exact")

    def to_ratio(p):
        return math.inf if p >= 1.0 else p * ta / ((1.0 - p) * tb)

    ratio = math.inf if ka == 0 else rate_b / rate_a
    return RateComparison(rate_a, rate_b, ratio, to_ratio(ci.low), to_ratio(ci.high),
                          float(test.pvalue), ka, kb, ta, tb)


@dataclasses.dataclass(frozen=True)
class PoissonTrend:
    """A log-linear trend of a rate over time (Poisson regression, log exposure offset).

    Attributes
    ----------
    slope_per_day : float
        Change of the log rate per day.
    ratio : float
        Fitted rate at the last session over the fitted rate at the first
        (``exp(slope * span_days)``).
    ci_low, ci_high : float
        Confidence interval of ``ratio``.
    p_value : float
        Two-sided p-value of "no trend" (likelihood ratio; F test when overdispersed).
    rate_first, rate_last : float
        Fitted rates per minute at the first and last session.
    span_days : float
    dispersion : float
        Pearson chi-square over the residual degrees of freedom (1 = Poisson).
    n_sessions : int
    converged : bool
    """

    slope_per_day: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    rate_first: float
    rate_last: float
    span_days: float
    dispersion: float
    n_sessions: int
    converged: bool


def fit_poisson_log_linear(counts, exposure, x) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return (coefficients, their covariance, converged) of ``log mu = log(exposure) + a + b x``.

    Maximum likelihood by iteratively reweighted least squares (Newton's method for the
    canonical log link). The covariance is the inverse Fisher information (Poisson, no
    dispersion).

    Examples
    --------
    >>> beta, cov, ok = fit_poisson_log_linear([10, 20], [1.0, 1.0], [0.0, 1.0])
    >>> np.round(np.exp(beta), 3).tolist(), ok
    ([10.0, 2.0], True)
    """
    k = np.asarray(counts, float)
    t = np.asarray(exposure, float)
    x = np.asarray(x, float)
    X = np.column_stack([np.ones_like(x), x])
    offset = np.log(t)
    beta = np.array([math.log(max(k.sum(), 0.5) / t.sum()), 0.0])
    converged = False
    for _ in range(_MAX_ITER):
        eta = X @ beta + offset
        if np.max(np.abs(beta)) > _DIVERGED:
            break  # counts only at one end of time: the MLE of the slope is infinite
        mu = np.exp(eta)
        # Working response and weights of the log link: z = eta - offset + (k - mu) / mu, W = mu.
        z = eta - offset + (k - mu) / mu
        info = X.T @ (mu[:, None] * X)
        new = np.linalg.solve(info, X.T @ (mu * z))
        step = np.max(np.abs(new - beta))
        beta = new
        if step < _TOL * (1 + np.max(np.abs(beta))):
            converged = True
            break
    with np.errstate(over="ignore", under="ignore"):
        mu = np.exp(X @ beta + offset)
        cov = np.linalg.inv(X.T @ (mu[:, None] * X) + 1e-300 * np.eye(2))
    return beta, cov, converged and bool(np.all(np.isfinite(beta)))


def _deviance(k, mu) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(k > 0, k * np.log(k / mu), 0.0) - (k - mu)
    return float(2.0 * terms.sum())


def poisson_trend(counts, rest_min, days, level: float = 0.95) -> PoissonTrend:
    """Return the log-linear trend of a rate over sessions.

    Parameters
    ----------
    counts : array_like of int
        Discharges per session.
    rest_min : array_like of float
        Minutes of rest per session (the exposure; all > 0).
    days : array_like of float
        Session times in days (any origin); at least two different.
    level : float
        Confidence level of the ratio's interval.

    Returns
    -------
    PoissonTrend
        With NaN fields (and p = 1) when no session had a discharge.

    Examples
    --------
    >>> tr = poisson_trend([10, 14, 20, 28, 40], [2.0] * 5, [0, 30, 60, 90, 120])
    >>> round(tr.ratio, 1), tr.p_value < 0.05
    (4.0, True)
    """
    from scipy import stats

    k = np.asarray(counts, float)
    t = np.asarray(rest_min, float)
    d = np.asarray(days, float)
    if not (k.shape == t.shape == d.shape) or k.ndim != 1:
        raise ParameterError("counts, rest_min and days must be 1-D arrays of one length")
    if np.any(t <= 0) or np.any(k < 0):
        raise ParameterError("rest minutes must be positive and counts >= 0")
    n = k.size
    span = float(d.max() - d.min()) if n else 0.0
    if n < 3 or span <= 0:
        raise ParameterError(f"a trend needs at least 3 sessions on 2+ dates, got {n}")
    nan = math.nan
    if k.sum() == 0:
        return PoissonTrend(0.0, nan, nan, nan, 1.0, 0.0, 0.0, span, nan, n, True)
    # Centre and scale time so that the two coefficients are of like size.
    x = (d - d.mean()) / span
    beta, cov, converged = fit_poisson_log_linear(k, t, x)
    with np.errstate(over="ignore", under="ignore"):
        mu = np.maximum(np.exp(beta[0] + beta[1] * x + np.log(t)), 1e-300)
    df = n - 2
    pearson = float(np.sum((k - mu) ** 2 / mu))
    dispersion_hat = pearson / df
    dispersion = max(1.0, dispersion_hat)
    mu0 = t * k.sum() / t.sum()  # no trend: one rate for all sessions
    lr = max(_deviance(k, mu0) - _deviance(k, mu), 0.0)
    se = math.sqrt(cov[1, 1] * dispersion)
    if dispersion_hat > 1.0:
        p_value = float(stats.f.sf(lr / dispersion, 1, df))
        quantile = float(stats.t.ppf(0.5 + level / 2, df))
    else:
        p_value = float(stats.chi2.sf(lr, 1))
        quantile = float(stats.norm.ppf(0.5 + level / 2))
    b = float(beta[1])  # log ratio over the whole span (x runs over one unit)
    first, last = int(np.argmin(d)), int(np.argmax(d))
    with np.errstate(over="ignore", under="ignore"):
        rate = np.exp(beta[0] + beta[1] * x)
    if not converged:
        # Separation (discharges only at one end): the likelihood-ratio test still holds
        # (Poisson), the ratio is unbounded and has no Wald interval.
        return PoissonTrend(math.copysign(math.inf, b), math.inf if b > 0 else 0.0, nan, nan,
                            float(stats.chi2.sf(lr, 1)), float(rate[first]), float(rate[last]),
                            span, dispersion_hat, n, False)
    return PoissonTrend(b / span, math.exp(b), math.exp(b - quantile * se),
                        math.exp(b + quantile * se), p_value, float(rate[first]),
                        float(rate[last]), span, dispersion_hat, n, converged)
