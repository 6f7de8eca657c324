"""Single-sample glitches: one sample standing alone, with no waveform around it.

Consumer boards (and radio links) now and then deliver one wrong sample. After the
band-pass it rings like a small biphasic potential, and at 125-250 Hz, where a
motor-unit potential spans only 1-4 samples, its filtered shape is close to a real
one's. In the raw samples the two differ: every potential has passed the board's
anti-alias (decimation) filter, so its neighbours carry part of it, and its phases lie
up to 10 ms apart (2 samples at 200 Hz); a glitch happens after that filter, and the
samples within 10 ms of it sit on the baseline, wherever that drifts.

At 200 Hz a few per cent of real potentials are sampled at a phase that leaves them one
sample wide (tuning seeds 0-17 of the simulator's 200-Hz board: 2.7 %; about 2 % of the
candidates of the real Ganglion task files). They cannot be told from a glitch by
their own samples alone. Such a lone sample is kept when a unit of its channel,
polarity and size samples narrow at the neighbouring phases (potentials with a waveform,
but a small one beside the peak), its neighbours follow one of those narrow samples'
shapes by more than noise does (the unit's template at some phase, against a one-sample
spike: a model comparison), and lone samples of that size do not outnumber what such a
unit gives: a glitch train beside a unit of glitch size is not that unit's, and lone
samples never vouch for each other. A unit whose potentials sample one sample wide with
nothing beside the peak cannot vouch for anything: its discharges and a board's glitches
look the same.
"""

from __future__ import annotations

import numpy as np

from ._median import median_last_axis
from .params import DetectionParams

#: Offsets (samples) from the raw peak whose values, over the peak's, hold a candidate's
#: shape beside its peak: the other phase of a 200-250-Hz potential lies up to 2 off.
SHAPE_OFFSETS = (-2, -1, 1, 2)
_SHAPE_KEY = "spike_beside_{:+d}"


def spike_features(raw_snippets: np.ndarray, sfreq: float, window_ms: float = 10.0,
                   noise_sigma: np.ndarray | None = None) -> dict:
    """Return how much each raw snippet's centre looks like one lone sample.

    The baseline is a straight line through the samples 2-4 windows either side (beyond
    a potential's waveform), so a glitch on a steep or drifting baseline stands alone
    from it as on a flat one; the noise comes from the second differences there, which a
    slope does not enter either.

    Parameters
    ----------
    raw_snippets : ndarray, shape (n_events, n_samples)
        Unfiltered samples of each event's main channel, centred on its filtered peak.
    sfreq : float
    window_ms : float
        How far a potential's waveform reaches either side of its peak (the samples
        judged beside it, and the area's window): 10 ms, the phases of a biphasic
        potential that a 200-Hz board samples 2 samples apart.
    noise_sigma : ndarray, shape (n_events,), optional
        The raw samples' noise sigma at each event (V), e.g. its channel's floor over the
        noise segment (:func:`fascidetect.noise.step_window_sigmas`). Default: from the
        second differences of the snippet's flanks, which hold too few samples to tell
        it within a factor 2 (tuning seeds 0-17 of the simulator's 200-Hz board).

    Returns
    -------
    dict of ndarray
        ``spike_neighbour_ratio``: the largest deviation from the baseline of the samples
        within ``window_ms`` (at most 2 samples) of the raw peak, over the peak's; ``spike_noise_ratio``: the
        noise sigma over the peak; ``spike_area``: net area within
        ``window_ms`` of the peak in units of the peak sample (a lone sample about 1, a
        potential about 0); ``spike_amplitude``: the signed peak over the baseline (V);
        ``spike_beside_-2`` ... ``spike_beside_+2`` (:data:`SHAPE_OFFSETS`): the samples
        1-2 before and after the raw peak over the baseline, in units of the peak
        (float32).
    """
    n_ev, w = raw_snippets.shape
    names = ("spike_neighbour_ratio", "spike_noise_ratio", "spike_background_ratio",
             "spike_area", "spike_amplitude")
    c = w // 2
    half = max(2, round(window_ms * 1e-3 * sfreq))
    half = min(half, (c - 1) // 5)
    if n_ev == 0 or half < 1:
        # Too short to judge: nothing looks like a lone sample.
        out = {k: np.full(n_ev, np.inf if k != "spike_amplitude" else 0.0) for k in names}
        out.update({_SHAPE_KEY.format(j): np.zeros(n_ev, np.float32) for j in SHAPE_OFFSETS})
        return out
    x = np.asarray(raw_snippets, dtype=float)
    # Least-squares line through the flanks; their offsets are symmetric about c.
    t = np.r_[-4 * half:-2 * half + 1, 2 * half:4 * half + 1].astype(float)
    flank = x[:, c + t.astype(np.int64)]
    level = flank.mean(axis=1)
    slope = flank @ t / (t @ t)
    # The deviation from the line where it is read: within ``half`` of the three
    # samples the raw peak may take (columns ``lo:`` of the snippet).
    lo = c - 1 - half
    dev = x[:, lo:c + 2 + half] - (level[:, None]
                                   + slope[:, None] * (np.arange(lo, c + 2 + half) - c)[None, :])
    if noise_sigma is None:
        # Noise from second differences: neither a slope nor slow wander enters it.
        curv = _abs_second_differences(x, [(c - 5 * half, c - 2 * half),
                                           (c + 2 * half + 1, c + 5 * half + 1)])
        sigma = 1.4826 * median_last_axis(curv, overwrite_input=True) / np.sqrt(6.0)
    else:
        sigma = np.asarray(noise_sigma, dtype=float)
    # The background's own noise over the whole snippet beside the waveform: above the
    # floor inside activity, where single samples are not judged.
    wide = _abs_second_differences(x, [(0, c - 2 * half), (c + 2 * half + 1, w)])
    background = 1.4826 * median_last_axis(wide, overwrite_input=True) / np.sqrt(6.0)
    # The raw peak: the filtered one may sit a sample off for a potential (k: snippet
    # column, k - lo: column of dev).
    k = c - 1 + np.argmax(np.abs(dev[:, c - 1 - lo:c + 2 - lo]), axis=1)
    rows = np.arange(n_ev)
    peak = dev[rows, k - lo]
    size = np.maximum(np.abs(peak), np.finfo(float).tiny)
    offsets = np.arange(-half, half + 1)
    around = dev[rows[:, None], (k - lo)[:, None] + offsets]
    # Beside the peak: its other phase lies up to 2 samples off where a phase is one
    # sample (200-250 Hz); at higher rates the next sample already carries the potential
    # and farther ones would only add noise to a glitch's neighbours.
    reach = min(2, half)
    near = np.r_[half - reach:half, half + 1:half + reach + 1]
    beside = np.abs(around[:, near]).max(axis=1)
    area = around.sum(axis=1)
    signed = np.where(peak == 0, np.finfo(float).tiny, peak)
    # The samples beside the peak in units of it, each offset a column: the shape a
    # unit's template is judged by (float32: four columns for every candidate).
    shape = {_SHAPE_KEY.format(j): (around[:, half + j] / signed).astype(np.float32)
             if abs(j) <= half else np.zeros(n_ev, np.float32) for j in SHAPE_OFFSETS}
    return {"spike_neighbour_ratio": beside / size, "spike_noise_ratio": sigma / size,
            "spike_background_ratio": background / size,
            "spike_area": area / signed, "spike_amplitude": peak, **shape}


def _abs_second_differences(x: np.ndarray, spans) -> np.ndarray:
    """Return ``|np.diff(x[:, a:b], 2, axis=1)|`` of each span ``(a, b)`` side by side
    (the same values as the concatenation, written into one array)."""
    widths = [max(b - a - 2, 0) for a, b in spans]
    out = np.empty((x.shape[0], sum(widths)))
    at = 0
    for (a, b), n in zip(spans, widths):  # two spans
        if n:
            d1 = np.subtract(x[:, a + 1:b], x[:, a:b - 1])
            np.subtract(d1[:, 1:], d1[:, :-1], out=out[:, at:at + n])
        at += n
    return np.abs(out, out=out)


def lone_samples(features: dict, channel: np.ndarray, params: DetectionParams) -> np.ndarray:
    """Return a mask of candidates that are single-sample glitches.

    A candidate is a lone sample when it rises at least ``glitch_min_height_sigmas``
    above the noise and above its background's own noise (inside activity single samples
    are not judged), its net area is at least ``glitch_min_area`` of the peak sample, and
    the samples within 10 ms of its raw peak stay within ``glitch_max_neighbour_ratio``
    of it. Between that and ``glitch_noise_sigmas`` noise sigmas (never beyond 0.4 of
    the peak, where a sampled potential's own neighbours begin) the noise alone may have
    lifted a glitch's neighbours, as the brief potentials of a small unit may leave
    them: such a candidate is a glitch only on a channel seen to glitch, that is, with
    at least ``glitch_sign_evidence`` clear lone samples of the other polarity, or one
    of the other polarity and ``glitch_sign_evidence`` of its own that no unit vouches
    for (a data error has no sign, a unit's potentials have theirs; glitches of both
    signs show a channel glitching even where chance gave one sign few of them).

    It is kept as a discharge when a unit of its channel samples narrow: at least
    ``glitch_unit_min_matches`` candidates of the same channel and polarity, with a size
    within ``glitch_unit_amplitude_tolerance``, have a narrow waveform of their own (a
    neighbour ratio over what noise explains and ``glitch_unit_min_neighbour_ratio`` and
    under ``glitch_unit_max_neighbour_ratio``: the sub-sample phases beside the one that
    leaves a potential one sample wide), and either the lone samples of that size number
    at most ``glitch_unit_lone_share`` of them and none of that size has the other
    polarity, or at least ``glitch_unit_lone_excess`` of them are in excess over the
    other polarity's; and its neighbours follow the shape of one of those narrow samples
    (the unit's template at that sampling phase, with a free scale) by more than
    ``glitch_unit_template_sigmas`` noise sigmas. Beyond
    ``glitch_unit_template_override_sigmas`` the template alone vouches. Lone samples do
    not vouch for each other, and a glitch train more frequent than a unit's narrow
    samples is not that unit's.

    On a channel seen to glitch, a candidate whose neighbours stand at a quarter to
    ``glitch_unit_max_neighbour_ratio`` of its peak is a glitch too when its shape beside
    the peak follows none of its siblings' (``glitch_shape_min_cosine``): noise or wander
    lifted a glitch's neighbours. Such glitches vouch for no lone sample. Features
    without the shape columns of :func:`spike_features` are judged by the counting rules
    alone.
    """
    ratio = features["spike_neighbour_ratio"]
    noise = features["spike_noise_ratio"]
    # A lone sample stands out of a quiet baseline; inside an interference pattern
    # single samples are not judged.
    quiet = np.maximum(noise, features.get("spike_background_ratio", noise))
    high = quiet * params.glitch_min_height_sigmas <= 1.0
    judged = high & (features["spike_area"] >= params.glitch_min_area)
    clear = judged & (ratio < params.glitch_max_neighbour_ratio)
    # Beside a small glitch the noise alone can reach a third of its height (the largest
    # of 4 neighbours passes 3.5 sigmas in about 1 % of glitches); never more than 0.4.
    beside_limit = np.clip(params.glitch_noise_sigmas * noise,
                           params.glitch_max_neighbour_ratio, 0.4)
    unclear = judged & ~clear & (ratio < beside_limit)
    amp = features["spike_amplitude"]
    sign = np.sign(amp)
    shape = _shapes(features)
    alone = clear.copy()

    def narrow_of(by_shape):  # candidates that sample a unit narrow
        return (ratio >= np.maximum(beside_limit, params.glitch_unit_min_neighbour_ratio)) \
            & (ratio < params.glitch_unit_max_neighbour_ratio) & ~by_shape

    # Clear lone samples that no unit vouches for are glitches of their polarity: with
    # one of the other polarity beside them, the channel glitches in both.
    unvouched = alone
    if alone.any():
        first = _shapeless(features, shape, channel, high & ~alone, clear, np.zeros_like(clear), params)
        unvouched = alone & ~_vouched(alone, narrow_of(first), channel, shape, features, params)
    for c in np.unique(channel[unclear]):  # loop over the channels with unclear ones
        for s in (-1.0, 1.0):
            q = unclear & (channel == c) & (sign == s)
            alone[q] = _glitching(clear, unvouched, channel, sign, c, s, params)
    # Neighbours lifted by wander may all lie on the other side of the peak (net area
    # under 0): the shape test asks only the height.
    by_shape = _shapeless(features, shape, channel, high & ~alone, clear, unvouched, params)
    if not alone.any():
        return by_shape
    kept = _vouched(alone, narrow_of(by_shape), channel, shape, features, params)
    return (alone & ~kept) | by_shape


def _glitching(clear: np.ndarray, unvouched: np.ndarray, channel: np.ndarray, sign: np.ndarray,
               c, s: float, params: DetectionParams) -> bool:
    """Return whether channel ``c`` is seen to glitch for candidates of polarity ``s``:
    ``glitch_sign_evidence`` clear lone samples of the other polarity, or one of the
    other polarity and as many of its own that no unit vouches for (a data error has
    no sign, a unit's one-sample-wide potentials have their unit's)."""
    on = channel == c
    other = np.count_nonzero(clear & on & (sign == -s))
    own = np.count_nonzero(unvouched & on & (sign == s))
    need = params.glitch_sign_evidence
    return bool(other >= need or (other >= 1 and own >= need))


def _vouched(alone: np.ndarray, narrow: np.ndarray, channel: np.ndarray, shape,
             features: dict, params: DetectionParams) -> np.ndarray:
    """Return a mask of the lone samples ``alone`` that a unit of their channel vouches
    for (the counting rules and the template fit of :func:`lone_samples`)."""
    amp = features["spike_amplitude"]
    noise = features["spike_noise_ratio"]
    sign = np.sign(amp)
    tol = params.glitch_unit_amplitude_tolerance
    kept = np.zeros_like(alone)
    for c in np.unique(channel[alone]):  # loop over the channels with lone samples
        for s in (-1.0, 1.0):
            r = np.flatnonzero((channel == c) & narrow & (sign == s))
            q = np.flatnonzero(alone & (channel == c) & (sign == s))
            if r.size == 0 or q.size == 0:
                continue
            ref = np.sort(np.abs(amp[r]))
            size = np.abs(amp[q])
            lone = np.sort(size)
            other = np.sort(np.abs(amp[alone & (channel == c) & (sign == -s)]))
            lo, hi = size * (1 - tol), size * (1 + tol)
            n_like, n_lone, n_other = (_count_within(v, lo, hi) for v in (ref, lone, other))
            # Glitches come in both polarities alike; a unit's one-sample-wide potentials
            # in its own. Where the other polarity holds lone samples of this size, the
            # channel glitches at this size and only the excess over them is the unit's;
            # where it holds none, the unit's narrow samples vouch for a few.
            unit_share = ((n_lone <= params.glitch_unit_lone_share * n_like) & (n_other == 0)) \
                | (n_lone - n_other >= params.glitch_unit_lone_excess * n_lone)
            if shape is None:  # no shapes given: the counting rules alone
                vouched = unit_share
            else:
                fit = _template_fit(q, shape, np.abs(amp), lo, hi, r,
                                    params.glitch_template_neighbours) / noise[q]
                vouched = (unit_share & (fit > params.glitch_unit_template_sigmas)) \
                    | (fit > params.glitch_unit_template_override_sigmas)
            kept[q] = (n_like >= params.glitch_unit_min_matches) & vouched
    return kept


def _shapeless(features: dict, shape: _ShapeRows | None, channel: np.ndarray,
               candidates: np.ndarray, clear: np.ndarray, unvouched: np.ndarray,
               params: DetectionParams) -> np.ndarray:
    """Return a mask of glitches whose neighbours noise or wander lifted: on a channel
    seen to glitch, a candidate of ``candidates`` with neighbours at a quarter to
    ``glitch_unit_max_neighbour_ratio`` of its peak whose shape beside the peak follows
    none of its siblings' (candidates of its channel, polarity and size within
    ``glitch_unit_amplitude_tolerance``, neighbours from a quarter of the peak to
    ``glitch_sibling_max_neighbour_ratio``): best cosine under ``glitch_shape_min_cosine``.
    A unit fires again and its sampled shapes repeat at each phase; a glitch's
    neighbours are noise in no direction of a unit's.
    """
    out = np.zeros(channel.shape[0], dtype=bool)
    if shape is None or params.glitch_shape_min_cosine <= -1:
        return out
    ratio = features["spike_neighbour_ratio"]
    amp = features["spike_amplitude"]
    sign = np.sign(amp)
    low = params.glitch_max_neighbour_ratio
    judged = candidates & (ratio >= low) & (ratio < params.glitch_unit_max_neighbour_ratio)
    sibling = (ratio >= low) & (ratio < params.glitch_sibling_max_neighbour_ratio)
    tol = params.glitch_unit_amplitude_tolerance
    for c in np.unique(channel[judged]):  # loop over the channels with such candidates
        for s in (-1.0, 1.0):
            q = np.flatnonzero(judged & (channel == c) & (sign == s))
            if q.size == 0 or not _glitching(clear, unvouched, channel, sign, c, s, params):
                continue
            r = np.flatnonzero(sibling & (channel == c) & (sign == s))
            size = np.abs(amp[q])
            best = _template_fit(q, shape, np.abs(amp), size * (1 - tol), size * (1 + tol), r,
                                 params.glitch_template_neighbours)
            out[q] = best < params.glitch_shape_min_cosine * np.linalg.norm(shape[q], axis=1)
    return out


class _ShapeRows:
    """The candidates' samples beside the peak over the peak, gathered on demand:
    ``rows[idx]`` is what indexing the (candidates, offsets) float64 stack would give.

    Only the rows the rules compare are gathered (a day's stack of every candidate,
    with its float64 conversions, was 13 MB of the peak; issue 14).
    """

    def __init__(self, columns: list):
        self.columns = columns

    def __getitem__(self, idx) -> np.ndarray:
        return np.stack([np.asarray(col[idx], dtype=float) for col in self.columns], axis=-1)


def _shapes(features: dict) -> _ShapeRows | None:
    """Return the candidates' samples beside the peak over the peak, one row each
    (None without the shape columns of :func:`spike_features`)."""
    cols = [features.get(_SHAPE_KEY.format(j)) for j in SHAPE_OFFSETS]
    if any(col is None for col in cols):
        return None
    return _ShapeRows(cols)


def _template_fit(q: np.ndarray, shape: np.ndarray, size: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray, refs: np.ndarray, k: int) -> np.ndarray:
    """Return how far each candidate's neighbours follow the best of its unit's shapes.

    Each candidate in ``refs`` (rows in time order) with a size in ``[lo, hi)`` of a
    candidate ``q``'s is the unit's template sampled at one phase. Fitted to ``q``'s
    neighbours with a free scale, the best of them lowers their squared residual
    against a one-sample spike by the square of the value returned (in units of the
    peak; over the noise ratio, noise sigmas): the projection of the neighbours on that
    template's direction. A glitch's neighbours are noise, about N(0, 1) noise sigmas
    along any one direction; a unit's one-sample-wide potential keeps a trace of its
    other phase there. A template with nothing beside its peak (a unit sampled one
    sample wide) gives 0 and vouches for nothing. Only the ``k`` reference rows before
    and after ``q`` (not ``q`` itself) are tried: the best of more templates would
    follow noise the better the longer the recording (the maximum of N noise
    projections grows with N), and a unit's shape holds over its neighbouring
    discharges. A mean of the shapes instead mixed the phases (and two units of one
    size) and lost more true discharges (tuning seeds, offline).
    """
    if refs.size == 0 or q.size == 0:
        return np.zeros(q.size)
    at = np.searchsorted(refs, q)[:, None] + np.arange(-k, k + 1)[None, :]   # (q, 2k+1)
    valid = (at >= 0) & (at < refs.size)
    rows = refs[np.clip(at, 0, refs.size - 1)]
    valid &= (rows != q[:, None]) & (size[rows] >= lo[:, None]) & (size[rows] < hi[:, None])
    tmpl = shape[rows]                                                         # (q, 2k+1, m)
    norm = np.linalg.norm(tmpl, axis=2)
    along = np.einsum("qkm,qm->qk", tmpl, shape[q]) / np.maximum(norm, np.finfo(float).tiny)
    along[~valid | (norm == 0)] = 0.0
    return along.max(axis=1)


def _count_within(sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Return how many of ``sorted_values`` lie in each ``[lo, hi)``."""
    return np.searchsorted(sorted_values, hi) - np.searchsorted(sorted_values, lo)
