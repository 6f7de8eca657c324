"""Motor-unit potentials: Hermite-Rodriguez waveforms with a spatial footprint, rendered
at the output rate through the sinc^3 decimation filter of a delta-sigma ADC."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import signal as _sig

from ._montage import _Montage

#: Lowest internal rate at which potentials are generated before decimation (Hz).
_INTERNAL_MIN_HZ = 4000.0
#: Fraction of the peak absolute value that delimits a potential's onset and end.
_EDGE_FRACTION = 0.05


@dataclasses.dataclass
class _Unit:
    """A motor unit's polyphase templates at the output rate.

    ``G[p, c, r]`` is the unit's potential on channel ``chans[c]`` for a discharge whose
    high-rate position has sub-sample phase ``p``; ``centre`` is the index of the
    discharge instant in the (filtered) high-rate template.
    """

    G: np.ndarray
    chans: np.ndarray
    centre: int
    main: int                 # index into chans of the largest channel


class _Renderer:
    """Places unit templates at the output rate as if rendered at ``k * sfreq`` and decimated."""

    def __init__(self, sfreq: float, n_channels: int, n_samples: int, pad_s: float = 0.1):
        self.sfreq = sfreq
        self.k = max(1, int(math.ceil(_INTERNAL_MIN_HZ / sfreq)))
        self.fs_hi = self.k * sfreq
        if self.k > 1:
            # The sinc^3 decimation filter of the delta-sigma ADCs in EMG front ends
            # (ADS1299 in OpenBCI Cyton, MCP3912 in Ganglion): three cascaded boxcars of one
            # output period. It smears potentials without the ringing of a brick-wall FIR
            # and lets some energy alias, as the real boards do. Applied zero-phase.
            box = np.ones(self.k) / self.k
            self.fir = np.convolve(np.convolve(box, box), box)
        else:
            self.fir = np.ones(1)
        self.pad = int(math.ceil(pad_s * sfreq))
        self.n = n_samples
        self.n_channels = n_channels

    def new_buffer(self):
        return np.zeros((self.n_channels, self.n + 2 * self.pad))

    def trim(self, buf):
        return buf[:, self.pad:self.pad + self.n]

    def unit(self, hi_templates: np.ndarray, chans: np.ndarray, centre_hi: int) -> _Unit:
        """Return a :class:`_Unit` from templates sampled at ``fs_hi`` (channels x samples)."""
        k = self.k
        if k > 1:
            filt = _sig.oaconvolve(hi_templates, self.fir[np.newaxis, :], mode="full", axes=1)
            centre = centre_hi + (self.fir.size - 1) // 2
        else:
            filt, centre = hi_templates, centre_hi
        n_lp = -(-filt.shape[1] // k)
        padded = np.zeros((filt.shape[0], n_lp * k))
        padded[:, :filt.shape[1]] = filt
        G = padded.reshape(filt.shape[0], n_lp, k).transpose(2, 0, 1).copy()
        main = int(np.argmax(np.ptp(G[0], axis=1)))
        return _Unit(G, np.asarray(chans), int(centre), main)

    def offsets(self, unit: _Unit, times_s: np.ndarray):
        """Return (phase, first output sample) of each discharge."""
        j = np.rint(np.asarray(times_s) * self.fs_hi).astype(np.int64)
        s = j - unit.centre
        p = (-s) % self.k
        return p, (s + p) // self.k

    def place(self, buf, unit: _Unit, times_s, amps, batch: int = 512):
        """Add ``amps[i] * template`` at each discharge time into ``buf`` (vectorized)."""
        times_s = np.asarray(times_s, float)
        amps = np.asarray(amps, float)
        if times_s.size == 0:
            return
        p, m0 = self.offsets(unit, times_s)
        n_lp = unit.G.shape[2]
        ar = np.arange(n_lp)
        ch = unit.chans[np.newaxis, :, np.newaxis]
        for a in range(0, times_s.size, batch):  # batches bound memory on 64-ch grids
            sl = slice(a, a + batch)
            vals = amps[sl, None, None] * unit.G[p[sl]]
            t_idx = (m0[sl] + self.pad)[:, None, None] + ar[None, None, :]
            c_idx = np.broadcast_to(ch, vals.shape)
            t_idx = np.broadcast_to(t_idx, vals.shape)
            ok = (t_idx >= 0) & (t_idx < buf.shape[1])
            np.add.at(buf, (c_idx[ok], t_idx[ok]), vals[ok])

    def in_band_peak(self, unit: _Unit, sos: np.ndarray) -> np.ndarray:
        """Return per phase the largest |value| of the main channel's potential after the
        zero-phase band-pass ``sos``: the peak a detector sees (at 125-250 Hz much of a
        potential lies outside the band)."""
        w = unit.G[:, unit.main, :]
        pad = np.zeros((w.shape[0], max(w.shape[1], int(0.25 * self.sfreq))))
        y = _sig.sosfiltfilt(sos, np.concatenate([pad, w, pad], axis=1), axis=1)
        return np.abs(y).max(axis=1)

    def features(self, unit: _Unit):
        """Return per-phase (p2p per channel, peak, onset, end index on the main channel)."""
        p2p = np.ptp(unit.G, axis=2)                      # (k, C)
        w = unit.G[:, unit.main, :]                       # (k, L)
        aw = np.abs(w)
        peak = np.argmax(aw, axis=1)
        above = aw > _EDGE_FRACTION * aw.max(axis=1, keepdims=True)
        onset = np.argmax(above, axis=1)
        end = w.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)
        return p2p, peak, onset, end


def _hermite_rodriguez(u: np.ndarray, order: int) -> np.ndarray:
    # Hermite-Rodriguez functions (Lo Conte et al. 1994): Hermite polynomial x Gaussian,
    # the classical analytic model of surface MUAPs (order 1 biphasic, 2 triphasic).
    g = np.exp(-u ** 2)
    h = {1: 2 * u, 2: 4 * u ** 2 - 2, 3: 8 * u ** 3 - 12 * u}[order]
    f = h * g
    return f / np.max(np.abs(f))


def _make_unit(rng, renderer: _Renderer, montage: _Montage, centre_pos, spread,
               duration_ms: float, p2p_uv: float) -> _Unit:
    """Return a unit whose potential has ``p2p_uv`` on its main channel (internal rate)."""
    if montage.linear:
        return _linear_array_unit(rng, renderer, montage, float(centre_pos[1]), spread,
                                  duration_ms, p2p_uv)
    d = montage.pos - np.asarray(centre_pos, float)[np.newaxis, :]
    if montage.grid:
        # Anisotropic 2-D decay: longer along the fibres (rows); potentials propagate
        # along the fibres from the innervation zone at the unit's centre row.
        dist = np.hypot(d[:, 0] / (1.4 * spread), d[:, 1] / spread)
        ied_mm, cv_m_s = 8.0, rng.uniform(3.0, 5.0)
        delay_ms = np.abs(d[:, 0]) * ied_mm / cv_m_s
        shape_dist = np.hypot(d[:, 0], d[:, 1])
    else:
        # Separate muscles of a montage: crosstalk by volume conduction, nearly instantaneous.
        dist = np.abs(d[:, 1]) / spread
        delay_ms = np.abs(d[:, 1]) * rng.uniform(0.1, 0.3)
        shape_dist = np.abs(d[:, 1])
    weight = np.exp(-dist)
    chans = np.flatnonzero(weight >= 0.01)   # below 1 % of the main channel: no footprint
    weight, delay_ms, shape_dist = weight[chans], delay_ms[chans], shape_dist[chans]

    width_ms = duration_ms / 4.6  # HR1 spans ~4.4 widths above 5 % of its peak
    mix = np.array([rng.uniform(0.4, 1.0), rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.3)])
    mix *= rng.choice([-1.0, 1.0], 3)
    asym = rng.uniform(-0.2, 0.2)
    half_ms = 3.2 * width_ms * 1.6 + float(delay_ms.max()) + 1.0
    n_half = int(math.ceil(half_ms * renderer.fs_hi / 1000.0))
    t_ms = np.arange(-n_half, n_half + 1) * 1000.0 / renderer.fs_hi
    waves = np.empty((chans.size, t_ms.size))
    for i in range(chans.size):  # a loop over a unit's few channels
        # Farther channels see a broader (volume-conductor low-pass), slightly reshaped,
        # slightly delayed potential.
        w_c = width_ms * (1.0 + 0.15 * shape_dist[i])
        u = (t_ms - delay_ms[i]) / w_c
        u = np.where(u < 0, u * (1 - asym), u * (1 + asym))
        m = mix + rng.normal(0.0, 0.08 * shape_dist[i], 3)
        waves[i] = sum(m[o] * _hermite_rodriguez(u, o + 1) for o in range(3))
    ptp = np.ptp(waves, axis=1)
    main = int(np.argmax(weight))
    waves *= (weight / ptp)[:, None] * p2p_uv / weight[main]
    return renderer.unit(waves, chans, n_half)


def _linear_array_unit(rng, renderer: _Renderer, montage: _Montage, iz: float, spread: float,
                       duration_ms: float, p2p_uv: float) -> _Unit:
    """Return a unit seen by a linear array of bipolar electrodes along its fibres.

    The potential starts at the innervation zone ``iz`` (electrode units) and propagates
    both ways at 3-5 m/s (inter-electrode distance 5-10 mm), so it reaches farther
    electrodes later, broader (conduction velocity dispersion), and with opposite
    polarity on the two sides of the zone (bipolar pairs see the two directions of
    travel with opposite sign), faint on the zone itself. Its amplitude decays over
    ``spread`` electrodes (fibre depth and territory). Where the fibres end (2-5
    electrodes from the zone, each side) the propagating potential vanishes, and a
    non-propagating end-of-fibre lobe, seen at once on every electrode beyond, appears
    when the potential arrives there (Merletti & Farina, Surface Electromyography).
    """
    x = montage.pos[:, 1]
    d = x - iz
    ied_mm, cv_m_s = rng.uniform(5.0, 10.0), rng.uniform(3.0, 5.0)
    ms_per_electrode = ied_mm / cv_m_s
    ends = (iz - rng.uniform(2.0, 5.0), iz + rng.uniform(2.0, 5.0))
    beyond = np.where(d < 0, ends[0] - x, x - ends[1])          # > 0 past the fibre end
    weight = np.exp(-np.abs(d) / spread) * (0.3 + 0.7 * np.minimum(1.0, np.abs(d) / 0.7))
    weight *= np.where(beyond > 0, np.exp(-beyond / 0.5), 1.0)
    reach = np.where(d < 0, iz - ends[0], ends[1] - iz)          # zone to that fibre end
    end_delay = reach * ms_per_electrode
    end_weight = rng.uniform(0.15, 0.35) * np.exp(-reach / spread) \
        * np.where(beyond > 0, np.exp(-beyond / 3.0), 0.0)
    delay = np.minimum(np.abs(d), reach) * ms_per_electrode
    chans = np.flatnonzero(np.maximum(weight, end_weight) >= 0.01 * weight.max())
    width_ms = duration_ms / 4.6
    mix = np.array([rng.uniform(0.4, 1.0), rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.3)])
    mix *= rng.choice([-1.0, 1.0], 3)
    asym = rng.uniform(-0.2, 0.2)
    half_ms = 3.2 * width_ms * 1.6 * 1.5 + float(delay[chans].max()) \
        + float(end_delay[chans].max()) + 1.0
    n_half = int(math.ceil(half_ms * renderer.fs_hi / 1000.0))
    t_ms = np.arange(-n_half, n_half + 1) * 1000.0 / renderer.fs_hi
    waves = np.zeros((chans.size, t_ms.size))
    for i, c in enumerate(chans):  # a loop over a unit's few electrodes
        w_c = width_ms * (1.0 + 0.08 * np.abs(d[c]))  # dispersion along the path
        u = (t_ms - delay[c]) / w_c
        u = np.where(u < 0, u * (1 - asym), u * (1 + asym))
        m = mix + rng.normal(0.0, 0.05 * np.abs(d[c]), 3)
        prop = sum(m[o] * _hermite_rodriguez(u, o + 1) for o in range(3))
        sign = -1.0 if d[c] < 0 else 1.0
        waves[i] = sign * weight[c] * prop
        if end_weight[c] > 0:
            # The end-of-fibre lobe: monophasic-ish, short, opposite to the arriving phase.
            v = (t_ms - end_delay[c]) / (0.7 * width_ms)
            waves[i] -= sign * end_weight[c] * np.exp(-v ** 2)
    main = int(np.argmax(np.ptp(waves, axis=1)))
    waves *= p2p_uv / np.ptp(waves[main])
    return renderer.unit(waves, chans, n_half)
