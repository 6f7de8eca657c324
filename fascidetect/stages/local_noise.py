"""Local noise: a threshold crossing under ``threshold_sigma`` of the noise around it.

The threshold follows each channel's noise per 20-s segment (its quiet 2-s windows'
``noise_percentile``): where the floor rises within a segment, the later windows' noise
peaks cross 5 *segment* sigmas but not 5 *local* ones (issue 11; the drifting floors of
the independent simulator, benchmarks/README.md noise29). The 1-s rest window's
background, already measured by the scan with the discharges left out
(:attr:`fascidetect.scan.Scan.rest_ratio`), is a second, local noise estimate.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..candidates import Candidates
from ..rest import effective_samples, row_of
from . import Context, decide

#: Standard deviation of a window's RMS over its expected value, per sqrt(2BT) (Gaussian).
_RMS_SPREAD = np.sqrt(0.5)


def local_rise(ctx: Context) -> np.ndarray:
    """Return each rest window's background over its noise segment's, shape (n_channels,
    n_windows): how far the noise has risen since the segment's quiet windows (1 where
    not measured).

    Both sides are in the background's own measure (RMS, discharges left out): the
    segment's reference is the ``noise_percentile`` of its windows' backgrounds, as the
    threshold's is of its 2-s windows, and never under the threshold's own sigma (the
    floor bounds it from below), so a heavy-tailed background that the RMS reads higher
    than the median does not count as a rise.
    """
    g, p = ctx.geometry, ctx.params
    ratio = ctx.scan.rest_ratio
    block = np.asarray(ctx.scan.block_sigma, dtype=float)
    per_seg = max(1, g.segment // g.rest_win)
    out = np.ones(ratio.shape)
    for c in range(ratio.shape[0]):  # loop over channels
        if not ctx.sigma[c] > 0:
            continue
        r = np.asarray(row_of(ratio, c), dtype=float)
        n_seg = -(-r.size // per_seg)
        padded = np.full(n_seg * per_seg, np.nan)
        padded[:r.size] = r
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN segments
            ref = np.nanpercentile(padded.reshape(n_seg, per_seg), p.noise_percentile, axis=1)
        # The threshold's segment sigmas over the floor; a last segment beyond them
        # takes the last one's.
        seg_floor = np.pad(block[c] / ctx.sigma[c], (0, max(0, n_seg - block.shape[1])),
                           mode="edge")[:n_seg]
        ref = np.fmax(ref, seg_floor)
        rise = r / np.repeat(ref, per_seg)[:r.size]
        out[c] = np.where(np.isfinite(rise), rise, 1.0)
    return out


def below_local_noise(cands: Candidates, ctx: Context):
    """Stage: threshold candidates (not template matches) seen on one channel only, under
    ``threshold_sigma`` of their window's local noise are excluded (reason ``below_local_noise``): noise peaks
    under a floor that rose within the noise segment.

    The local estimate counts only where its rise over the segment's exceeds
    ``local_noise_z`` times its own sampling spread (a 1-s window's RMS: 2.4 % at 2 kHz,
    3.5 % at 500 Hz); ``local_noise_z`` <= 0 switches the test off.
    """
    p = ctx.params
    none = np.zeros(len(cands), dtype=bool)
    if p.local_noise_z <= 0 or len(cands) == 0:
        return decide(len(cands), none, "excluded", "below_local_noise")
    rise = ctx.local_noise_rise
    if rise.shape[1] == 0:
        return decide(len(cands), none, "excluded", "below_local_noise")
    w = np.clip(cands.sample // ctx.geometry.rest_win, 0, rise.shape[1] - 1)
    n_eff = effective_samples(np.array([ctx.geometry.rest_win]), ctx.sfreq,
                              p.band_for(ctx.sfreq))
    spread = _RMS_SPREAD / np.sqrt(max(float(n_eff[0]), 1.0))
    r = rise[cands.channel, w]
    risen = r > 1.0 + p.local_noise_z * spread
    # A peak that other channels saw over their own thresholds at once is a discharge
    # (noise peaks are one channel's); its main channel may be the noisier one.
    alone = np.asarray(cands.channels).sum(axis=1) <= 1
    rows = risen & alone & (cands.snr < p.threshold_sigma * r) & np.isnan(cands.match_score)
    return decide(len(cands), rows, "excluded", "below_local_noise")
