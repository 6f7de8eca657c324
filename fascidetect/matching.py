"""Template matching: further discharges of the motor units the threshold scan learnt.

As spike sorters do it (SpyKING CIRCUS, Kilosort): the confident discharges of the first
scan are grouped into units (:func:`fascidetect.templates.assign_units`); each unit's
mean waveform becomes a matched filter, whitened in space and time by the noise of quiet
stretches, so the filter output is the likelihood-ratio score of "this unit fired here"
in noise sigmas. Discharges that stay under the single-channel threshold (a 3-5 sigma
unit whose every other discharge the noise pushes over it) or hide under another
discharge (two units overlapping) are found where that score is high, fitted with the
unit's amplitude, subtracted, and the residual searched again.

The pass re-reads the recording block by block as the scan does (bounded memory), and
is vectorized: one FFT of each block's channels, a multiply with each unit's kernel
spectrum and one inverse FFT per unit; the only Python loops run over units, channels
and the two iterations. The found discharges enter the scan's candidate table, so every
classification stage judges them, and carry their ``match_score``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import fft as _fft
from scipy import ndimage

from . import _memory, _spill, detection, ecg, neighbourhood, preprocessing, templates
from . import features as _features
from .blocks import Geometry
from .candidates import Candidates, describe_discharges
from .spans import in_spans

#: Matching iterations: find, subtract, find again (the later ones find overlaps).
_ITERATIONS = 3
#: Quiet windows sampled for the noise model (each one noise window long).
_NOISE_WINDOWS = 12
#: Noise spectrum floor, as a share of the channel's peak power: the band-passed data
#: carries almost nothing outside the band, which a plain 1/PSD would blow up (a floor
#: under the median, which lies out of band, left the score 3-5 times wider than its
#: model on the low-SNR recordings; under the peak it is within 3 %).
_PSD_FLOOR = 0.05
#: Shrinkage of the spatial noise correlation toward the identity (a few thousand quiet
#: samples estimate a 64 x 64 matrix only roughly).
_SHRINK = 0.1
#: A kernel channel carrying less than this share of the kernel's energy is left out
#: (each kept channel costs a spectrum product per block).
_MIN_CHANNEL_ENERGY = 0.05
#: Template channels whose peak is under this many noise sigmas of the template mean
#: (sigma / sqrt(n) for n discharges) are noise: set to zero.
_TEMPLATE_SIGNIFICANCE = 4.0
#: Largest misfit of an accepted match (mean squared residual over noise; est.: a
#: match the template explains leaves about 1, within 1.3 for 3 channels x 30 ms).
_MAX_MISFIT = 2.0
#: A unit most of whose discharges (this share) sit within ``shadow_ms`` of a discharge
#: 1.5 times larger is a satellite of that one (a late lobe on a neighbouring channel).
_SATELLITE_SHARE = 0.5
#: Units whose matched filters agree this well (peak normalized cross-score) are one.
_DUPLICATE = 0.8
#: Most confident discharges per main channel that units are learnt from.
_MAX_LEARN = 100
_MAD = 0.6744897501960817
#: Units whose spectrum products are summed before one inverse FFT (a 4 MB array at
#: an hour's 62-s blocks).
_UNIT_CHUNK = 8
_F16_MAX = 65000.0


class FilteredCache:
    """The scan's band-passed samples in noise units as float16, for the matching pass.

    Filtering is the largest cost of the pipeline; a second pass that filtered the
    recording again would nearly double it. The scan's samples are kept at 2 bytes a
    sample (float16 keeps 3 significant digits, 0.002 noise sigmas at the noise floor):
    in memory when they fit in :data:`CACHE_BYTES` (about 15 minutes of 8 channels at
    2 kHz), otherwise in a temporary file (:class:`fascidetect._spill.ColumnSpill`: an
    hour of 8 channels is 115 MB of page cache, not of the process; of memory where the
    temporary directory is a RAM disk, so point ``TMPDIR`` at a disk there) up to
    :data:`SPILL_BYTES`. Longer recordings, or a file that cannot be written, are read
    and filtered again block by block.
    """

    def __init__(self, n_channels: int, n_samples: int, sigma: np.ndarray):
        self.unit = np.where(sigma > 0, sigma, 1.0).astype(np.float32)[:, None]
        self.inverse = 1.0 / self.unit
        self.shape = (n_channels, n_samples)
        nbytes = n_channels * n_samples * 2
        self.data = np.zeros(self.shape, dtype=np.float16) if nbytes <= CACHE_BYTES else None
        self.spill = None
        self._spilled = nbytes <= SPILL_BYTES and self.data is None
        self.filled = 0

    def keep(self, start: int, filt_core: np.ndarray) -> None:
        """Store a block's band-passed core (V) from sample ``start`` (blocks in order;
        a scan run again starts from 0 and replaces what was kept)."""
        if self.data is None and not self._spilled:
            return
        stop = start + filt_core.shape[1]
        scaled = np.multiply(filt_core, self.inverse, dtype=np.float32)
        np.clip(scaled, -_F16_MAX, _F16_MAX, out=scaled)
        if self.data is not None:
            self.data[:, start:stop] = scaled
        else:
            try:
                if start == 0 or self.spill is None:
                    if self.spill is not None:
                        self.spill.close()
                    self.spill = _spill.ColumnSpill(*self.shape, np.float16,
                                                    memory_fallback=False)
                self.spill.write(start, scaled)
            except OSError:  # no room for the file: the matching pass filters again
                self.spill, self._spilled = None, False
                self.filled = 0
                return
        self.filled = stop if start == 0 else max(self.filled, stop)

    @property
    def complete(self) -> bool:
        return (self.data is not None or self.spill is not None) \
            and self.filled == self.shape[1]

    def get(self, lo: int, hi: int) -> np.ndarray:
        """Return samples ``[lo, hi)`` in volts."""
        held = self.data[:, lo:hi] if self.data is not None else self.spill.read(lo, hi)
        # One float32 array (the product converts the float16 samples as it goes): a
        # float32 copy first was one more block-sized temporary of the pass (4 MB).
        return np.multiply(held, self.unit, dtype=np.float32)


#: Most bytes the scan's band-passed samples may take in memory for the matching pass...
CACHE_BYTES = 32 * 2 ** 20
#: ...and in a temporary file (about 35 hours of 8 channels at 2 kHz).
SPILL_BYTES = 4 * 2 ** 30


@dataclasses.dataclass
class UnitBank:
    """Whitened matched filters of the learnt units.

    Attributes
    ----------
    templates : ndarray, shape (n_units, n_channels, n_snippet)
        Mean waveform of each unit, V (snippet grid: the peak region at the centre).
    kernels : list of ndarray
        Per unit, the whitened kernel on its channels, shape (n_kept, n_kernel).
    kernel_channels : list of ndarray of int
        Channels of each kernel.
    norm : ndarray, shape (n_units,)
        Standard deviation of each unit's raw score under noise (so ``score / norm`` is
        in noise sigmas and ``score / norm**2`` the amplitude relative to the template).
    scale : ndarray, shape (n_units,)
        Robust spread of ``score / norm`` measured on the quiet windows (1 for Gaussian
        noise that the model describes exactly): the calibration of the null.
    main : ndarray of int
        Main channel of each unit.
    peak_offset : ndarray of int
        Sample of the main-channel peak within the template.
    channels : ndarray of bool, shape (n_units, n_channels)
        Channels a unit is seen on (template peak over the detection threshold).
    pad : int
        Offset of the template inside the kernel window.
    cross : ndarray, shape (n_units, n_units, 2 * n_kernel - 1) | None
        Scores of each unit on every unit's template (:func:`cross_scores`).
    footprint : ndarray of bool, shape (n_units, n_channels) | None
        Channels where the template reaches half its main peak: a scan candidate on any
        of them at the same time is this discharge already found.
    """

    templates: np.ndarray
    kernels: list
    kernel_channels: list
    norm: np.ndarray
    scale: np.ndarray
    main: np.ndarray
    peak_offset: np.ndarray
    channels: np.ndarray
    pad: int
    cross: np.ndarray = None
    footprint: np.ndarray = None
    spectra: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.norm.size)

    @property
    def n_kernel(self) -> int:
        return self.kernels[0].shape[1] if self.kernels else 0


@dataclasses.dataclass
class NoiseModel:
    """Noise of quiet stretches: per-channel power spectrum and spatial correlation.

    Attributes
    ----------
    psd : ndarray, shape (n_channels, n_kernel // 2 + 1)
        Power spectrum of the band-passed noise, floored, scaled so that white noise of
        variance ``s**2`` gives ``s**2`` in every bin (V^2).
    inv_corr : ndarray, shape (n_channels, n_channels)
        Inverse of the (shrunk) zero-lag correlation of the temporally whitened noise.
    n_kernel : int
        FFT length of the spectrum (and of the matched-filter kernels).
    windows : list of ndarray, shape (n_channels, n)
        The sampled band-passed windows...
    quiet_lags : list of ndarray of bool
        ...and, per window, the kernel lags whose whole window is free of candidates: the
        null distribution of the score is measured there.
    corr0 : ndarray, shape (n_channels, n_channels)
        Zero-lag correlation of the band-passed noise (neighbourhood detection whitens
        with it).
    """

    psd: np.ndarray
    inv_corr: np.ndarray
    n_kernel: int
    windows: list
    quiet_lags: list
    corr0: np.ndarray = None


def kernel_length(sfreq: float, n_snippet: int) -> int:
    """Return the FFT length of the kernels: four snippets, at least 125 ms (a power of 2).

    The whitening filter's impulse response must fit beside the template in the window.
    """
    want = max(4 * n_snippet, int(0.125 * sfreq))
    return int(2 ** np.ceil(np.log2(max(16, want))))


def noise_model(rec, picks, prep, cands: Candidates, geometry: Geometry,
                ecg_model=None, cache=None) -> NoiseModel | None:
    """Return the noise model of quiet stretches sampled evenly over the recording.

    Each sampled window (one noise window long, filtered with margins as the blocks are)
    is cut into kernel-length segments; segments within ``shadow_ms`` of a candidate
    discharge are left out, so the model is the background the matched filter must
    reject, not the discharges it must find. Returns None when no quiet segment is left.
    """
    fs = rec.sfreq
    n = rec.n_samples
    nk = kernel_length(fs, 2 * geometry.half + 1)
    win = max(2 * nk, geometry.noise_win)
    n_win = max(1, n // win)
    chosen = np.unique(np.linspace(0, n_win - 1, min(n_win, _NOISE_WINDOWS)).astype(int))
    near = np.sort(cands.sample)
    segs, windows, quiet_lags = [], [], []
    for w in chosen:  # loop over a dozen windows
        lo, hi = w * win, min(n, (w + 1) * win)
        filt, _ = _filtered(rec, picks, prep, lo, hi, geometry, ecg_model, cache)
        k = filt.shape[1] // nk
        if k == 0:
            continue
        # Quiet: no candidate from a shadow before a segment to a shadow after it.
        starts = lo + np.arange(k) * nk
        quiet = ~_overlaps(starts, nk, near, geometry.shadow)
        if quiet.any():
            segs.append(filt[:, :k * nk].reshape(filt.shape[0], k, nk)[:, quiet])
        lags = lo + np.arange(filt.shape[1] - nk + 1)
        windows.append(filt.copy())  # the core alone: the view would hold the margins
        quiet_lags.append(~_overlaps(lags, nk, near, geometry.shadow))
    if not segs:
        return None
    seg = np.concatenate(segs, axis=1)  # (n_ch, n_seg, nk)
    taper = np.hanning(nk)
    spec = np.fft.rfft(seg * taper[None, None, :], axis=-1)
    # Per-sample scale (white noise of variance s^2 gives s^2 in every bin).
    psd = (np.abs(spec) ** 2).mean(axis=1) / (np.mean(taper ** 2) * nk)
    floor = _PSD_FLOOR * psd.max(axis=1, keepdims=True)
    psd = np.maximum(psd, np.maximum(floor, np.finfo(float).tiny))
    # Spatial correlation of the temporally whitened noise (segments whitened whole).
    white = np.fft.irfft(np.fft.rfft(seg, axis=-1) / np.sqrt(psd)[:, None, :], nk, axis=-1)
    flat = white.reshape(seg.shape[0], -1)
    cov = flat @ flat.T / flat.shape[1]
    d = np.sqrt(np.maximum(np.diag(cov), np.finfo(float).tiny))
    corr = cov / d[:, None] / d[None, :]
    corr = (1.0 - _SHRINK) * corr + _SHRINK * np.eye(corr.shape[0])
    band0 = seg.reshape(seg.shape[0], -1)
    cov0 = band0 @ band0.T / band0.shape[1]
    d0 = np.sqrt(np.maximum(np.diag(cov0), np.finfo(float).tiny))
    corr0 = (1.0 - _SHRINK) * cov0 / d0[:, None] / d0[None, :] + _SHRINK * np.eye(len(d0))
    return NoiseModel(psd=psd, inv_corr=np.linalg.inv(corr), n_kernel=nk, windows=windows,
                      quiet_lags=quiet_lags, corr0=corr0)


def _overlaps(starts, length, sorted_samples, guard):
    """Return a mask: a sample lies in ``[start - guard, start + length + guard)``."""
    a = np.searchsorted(sorted_samples, starts - guard)
    b = np.searchsorted(sorted_samples, starts + length + guard)
    return b > a


def learn_units(found, sigma, params, sfreq: float, skip_spans) -> tuple[np.ndarray, np.ndarray]:
    """Return the templates (V) and discharge counts of the units of confident discharges.

    Confident: a held snippet, no artifact evidence, outside ``skip_spans`` (s). Large
    units are learnt too: matching them first keeps their footprint on a neighbouring
    channel from passing for a smaller unit there. Units of fewer than ``match_min_discharges`` are not learnt.
    """
    cands = found.candidates
    ok = (cands.snip_row >= 0) & (cands.artifact_kind == "") & \
        ~in_spans(cands.times(sfreq), skip_spans)
    rows = np.flatnonzero(ok)
    # A few hundred discharges per channel make a template as well as thousands (and
    # clustering costs the square of their number): spread evenly over the recording.
    by_ch = [rows[cands.channel[rows] == c] for c in np.unique(cands.channel[rows])]
    rows = np.sort(np.concatenate([r[np.unique(np.linspace(0, r.size - 1, min(r.size, _MAX_LEARN))
                                                .astype(int))] for r in by_ch])) \
        if by_ch else rows
    empty = np.zeros((0,) + found.snippets.shape[1:]), np.zeros(0, dtype=int)
    if rows.size < params.match_min_discharges:
        return empty
    unit = np.where(sigma > 0, sigma, 1.0).astype(np.float32)
    snips = found.snippets[cands.snip_row[rows]].astype(np.float32) * unit[None, :, None]
    labels, temps = templates.assign_units(snips, cands.channel[rows], sigma,
                                           min_discharges=params.match_min_discharges)
    counts = np.bincount(labels[labels >= 0], minlength=temps.shape[0])
    satellite = _satellites(labels, cands.sample[rows], cands.snr[rows], cands.sample[ok],
                            cands.snr[ok], int(round(params.shadow_ms * sfreq / 1000.0)))
    # The clustering's means are of unaligned snippets: a short potential jittering by a
    # sample or two averages to a smaller, wider one. Align each unit's discharges on its
    # main channel (fractional lags) and average again.
    scale = np.where(sigma > 0, sigma, 1.0)[None, :, None]
    aligned = np.zeros_like(temps)
    for u in range(temps.shape[0]):  # loop over units
        own = snips[labels == u] / scale
        main = int(np.argmax(np.abs(temps[u] / scale[0]).max(axis=-1)))
        # Twice: the first reference is the blurred mean, the second the aligned one.
        ref = templates.align_to_template(own, main).mean(axis=0)[main]
        aligned[u] = templates.align_to_template(own, main, reference=ref).mean(axis=0)
    keep = ~satellite
    aligned, counts = aligned[keep], counts[keep]
    return aligned * scale, counts


def _satellites(labels, samples, snr, all_samples, all_snr, window: int) -> np.ndarray:
    """Return, per unit, whether most of its discharges lie within ``window`` samples of
    a larger confident discharge: then it is the late lobe or echo of another unit's
    potential seen on a neighbouring channel (a few of those cross the threshold and
    cluster), not a unit of its own; matched, it would add a ghost after every discharge
    of the larger unit."""
    n_u = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    out = np.zeros(n_u, dtype=bool)
    if n_u == 0:
        return out
    order = np.argsort(all_samples)
    t, big = all_samples[order], all_snr[order]
    lo = np.searchsorted(t, samples - window)
    hi = np.searchsorted(t, samples + window, side="right")
    # The largest snr among the neighbours of each discharge (a prefix maximum would not
    # do over a sliding window; the windows hold a handful of candidates).
    width = int((hi - lo).max()) if samples.size else 0
    idx = lo[:, None] + np.arange(max(width, 1))[None, :]
    inside = idx < hi[:, None]
    near = np.where(inside, big[np.minimum(idx, t.size - 1)], 0.0).max(axis=1)
    locked = near > snr * 1.5
    for u in range(n_u):  # loop over units
        own = labels == u
        out[u] = own.any() and locked[own].mean() >= _SATELLITE_SHARE
    return out


def build_bank(temps: np.ndarray, counts: np.ndarray, sigma: np.ndarray,
               model: NoiseModel, threshold_sigma: float) -> UnitBank | None:
    """Return the whitened matched filters of the templates (None without units).

    The kernel is ``S^-1 t``, with the noise cross-spectrum ``S`` taken separable (each
    channel's spectrum times one spatial correlation): whiten each channel in time,
    undo the spatial correlation, whiten again. Template channels that the noise of the
    mean explains are zeroed first (they would only add noise to the score).
    """
    n_u, n_ch, w = temps.shape
    nk = model.n_kernel
    if n_u == 0 or w > nk:
        return None
    scale_ch = np.where(sigma > 0, sigma, np.inf)
    peak = np.abs(temps).max(axis=-1) / scale_ch[None, :]              # (U, C) in sigmas
    significant = peak * np.sqrt(counts)[:, None] >= _TEMPLATE_SIGNIFICANCE
    main = np.argmax(peak, axis=1)
    significant[np.arange(n_u), main] = True
    clean = np.where(significant[:, :, None], temps, 0.0)
    pad = (nk - w) // 2
    framed = np.zeros((n_u, n_ch, nk))
    framed[:, :, pad:pad + w] = clean
    root = np.sqrt(model.psd)[None]                                    # (1, C, F)
    t1 = np.fft.rfft(framed, axis=-1) / root
    t2 = np.einsum("cd,udf->ucf", model.inv_corr, t1)
    kern = np.fft.irfft(t2 / root, nk, axis=-1)                        # (U, C, nk)
    norm = np.sqrt(np.maximum((framed * kern).sum(axis=(1, 2)), np.finfo(float).tiny))
    energy = (kern ** 2).sum(axis=-1)
    keep = energy >= _MIN_CHANNEL_ENERGY * energy.max(axis=1, keepdims=True)
    kernels = [kern[u, keep[u]] for u in range(n_u)]
    channels = [np.flatnonzero(keep[u]) for u in range(n_u)]
    seen = peak >= threshold_sigma
    seen[np.arange(n_u), main] = True
    peak_offset = np.argmax(np.abs(clean[np.arange(n_u), main]), axis=-1)
    footprint = significant & (peak >= 0.5 * peak[np.arange(n_u), main][:, None])
    bank = UnitBank(templates=clean, kernels=kernels, kernel_channels=channels, norm=norm,
                    scale=np.ones(n_u), main=main, peak_offset=peak_offset, channels=seen,
                    pad=pad, footprint=footprint)
    bank.cross = cross_scores(bank)
    # Near-duplicate units (a unit split by the clustering, the same potential learnt on
    # two main channels) find the same discharges: keep the one of more discharges.
    similar = bank.cross.max(axis=-1) / (norm[:, None] * norm[None, :])
    kept = []
    for u in np.argsort(-counts, kind="stable"):  # loop over units
        if all(similar[u, v] < _DUPLICATE for v in kept):
            kept.append(u)
    if len(kept) < n_u:
        kept = np.sort(kept)
        return build_bank(temps[kept], counts[kept], sigma, model, threshold_sigma)
    bank.scale = _null_scale(bank, model)
    return bank


def _null_scale(bank: UnitBank, model: NoiseModel) -> np.ndarray:
    """Return each unit's robust spread of ``score / norm`` at the quiet lags of the
    sampled windows (the null distribution the threshold refers to; 1 if the noise
    model were exact)."""
    z = [[] for _ in range(len(bank))]
    for filt, quiet in zip(model.windows, model.quiet_lags):  # a dozen windows
        for u, s in enumerate(unit_scores(filt, bank)):
            z[u].append(s[quiet[:s.size]] / bank.norm[u])
    out = np.ones(len(bank))
    for u, parts in enumerate(z):
        values = np.concatenate(parts) if parts else np.zeros(0)
        if values.size >= 100:
            out[u] = max(np.median(np.abs(values)) / _MAD, 0.5)
    return out


def unit_scores(filt: np.ndarray, bank: UnitBank, nfft: int | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """Return each unit's raw matched-filter score at every full lag of ``filt``, shape
    (n_units, n - n_kernel + 1): one FFT of the channels the kernels use, one inverse FFT
    per unit (float32: far more precision than a noise-level score needs). ``nfft``
    (at least ``n + n_kernel``) lets blocks of different lengths share the kernels'
    transforms; ``out``, float32 of shape (n_units, nfft), receives the inverse FFT (the
    result is a view of it), so a block's iterations reuse one array."""
    n = filt.shape[1]
    nk = bank.n_kernel
    n_valid = max(0, n - nk + 1)
    nfft = _fft.next_fast_len(n + nk, real=True) if nfft is None or nfft < n + nk else nfft
    used = np.unique(np.concatenate(bank.kernel_channels))
    row = np.full(filt.shape[0], -1)
    row[used] = np.arange(used.size)
    # Every channel used (the usual case): no gathered float64 copy first, and float32
    # blocks (the cache's) transformed as they are; the same values either way.
    x = filt if used.size == filt.shape[0] else filt[used]
    spec = _fft.rfft(x.astype(np.float32, copy=False), nfft, axis=-1)
    if nfft not in bank.spectra:  # one transform of the kernels per length
        bank.spectra[nfft] = [np.conj(_fft.rfft(k.astype(np.float32), nfft, axis=-1))
                              for k in bank.kernels]
    if out is None or out.shape != (len(bank), nfft) or out.dtype != np.float32:
        out = np.empty((len(bank), nfft), dtype=np.float32)
    # The spectrum products a few units at a time, into one small array kept with the
    # bank (a fresh 16 MB array of all units' products per call cost about as much in
    # page faults as the products, and raised the pass's peak); the inverse FFT of each
    # chunk goes straight into ``out`` (numpy's pocketfft equals scipy's bit for bit).
    chunk = min(len(bank), _UNIT_CHUNK)
    summed = bank.spectra.get(("summed", nfft))
    if summed is None or summed.shape[0] < chunk:
        summed = bank.spectra[("summed", nfft)] = np.empty((chunk, spec.shape[1]),
                                                           dtype=spec.dtype)
    tmp = np.empty(spec.shape[1], dtype=spec.dtype)
    for u0 in range(0, len(bank), chunk):  # a few chunks of units
        u1 = min(u0 + chunk, len(bank))
        for u in range(u0, u1):  # loop over units
            ks = bank.spectra[nfft][u]
            rows = row[bank.kernel_channels[u]]
            acc = summed[u - u0]
            np.multiply(spec[rows[0]], ks[0], out=acc)
            for j in range(1, rows.size):  # a few channels
                np.add(acc, np.multiply(spec[rows[j]], ks[j], out=tmp), out=acc)
        np.fft.irfft(summed[:u1 - u0], nfft, axis=-1, out=out[u0:u1])
    return out[:, :n_valid]


def cross_scores(bank: UnitBank) -> np.ndarray:
    """Return ``G[u, v, nk - 1 + tau]``: unit ``u``'s score at lag ``t + tau`` of unit
    ``v``'s template placed at lag ``t`` (so a subtraction updates the scores without
    another FFT of the block, as Kilosort does)."""
    n_u, n_ch, w = bank.templates.shape
    nk = bank.n_kernel
    framed = np.zeros((n_u, n_ch, nk))
    framed[:, :, bank.pad:bank.pad + w] = bank.templates
    kern = np.zeros((n_u, n_ch, nk))
    for u in range(n_u):  # loop over units
        kern[u, bank.kernel_channels[u]] = bank.kernels[u]
    nfft = 2 * nk
    tf = np.fft.rfft(framed, nfft, axis=-1)                       # (V, C, F)
    kf = np.conj(np.fft.rfft(kern, nfft, axis=-1))                # (U, C, F)
    g = np.fft.irfft(np.einsum("vcf,ucf->uvf", tf, kf), nfft, axis=-1)   # lag tau at tau mod nfft
    lags = np.arange(-(nk - 1), nk)
    # Laid out (v, u, lag) in memory: a pick's score update (:func:`_update_scores`)
    # reads ``[:, v]`` as one contiguous block.
    return np.ascontiguousarray(g.transpose(1, 0, 2)[:, :, lags % nfft]).transpose(1, 0, 2)


@dataclasses.dataclass
class BlockMatches:
    """Discharges of the learnt units found in one block (local sample indices)."""

    unit: np.ndarray
    start: np.ndarray        # kernel-window start of each match
    amplitude: np.ndarray    # relative to the template
    score: np.ndarray        # calibrated matched-filter score, noise sigmas

    def peak(self, bank: UnitBank) -> np.ndarray:
        """Main-channel peak sample of each match."""
        return self.start + bank.pad + bank.peak_offset[self.unit]


def match_block(filt: np.ndarray, bank: UnitBank, params, dead: int,
                drift=None, iterations: int = _ITERATIONS, nfft: int | None = None
                ) -> tuple[BlockMatches, np.ndarray]:
    """Return the matches in a band-passed block and the residual after subtracting them.

    Each iteration scores every unit at every lag (FFT correlation), keeps the lags where
    the calibrated score reaches ``match_sigma`` with an amplitude inside
    ``match_amplitude_range`` of the template, picks the best unit per lag and greedy
    peaks ``dead`` samples apart (largest first), and subtracts the fitted templates.

    Parameters
    ----------
    filt : ndarray, shape (n_channels, n)
    bank : UnitBank
    params : DetectionParams
    dead : int
        Fewest samples between two matches of one iteration (overlaps within it are
        found by the next iteration, after the first is subtracted).
    nfft : int | None
        FFT length shared by the blocks (see :func:`unit_scores`).
    drift : _Drift | None
        Local noise over the recording's floor on each unit's main channel (the score is divided by it, as the threshold scan
        multiplies its threshold).
    """
    n_ch, n = filt.shape
    nk = bank.n_kernel
    residual = np.array(filt, dtype=float, copy=True)
    lo_amp, hi_amp = params.match_amplitude_range
    found = []
    n_valid = n - nk + 1
    if n_valid <= 0:
        return BlockMatches(*(np.zeros(0, int),) * 2, np.zeros(0), np.zeros(0)), residual
    nfft_used = _fft.next_fast_len(n + nk, real=True) if nfft is None or nfft < n + nk else nfft
    # The scores of every iteration and block go to one array kept with the bank.
    buffer = bank.spectra.get(("scores", nfft_used))
    if buffer is None:
        buffer = bank.spectra[("scores", nfft_used)] = np.empty((len(bank), nfft_used),
                                                                 dtype=np.float32)
    scores = unit_scores(filt, bank, nfft_used, out=buffer)
    cross = bank.cross if bank.cross is not None else cross_scores(bank)
    if drift is None:
        drift = _Drift(np.ones((len(bank), 1)), 0, 0, max(n, 1), np.zeros(len(bank), int))
    # The score in noise sigmas and the fitted gain, per unit and lag.
    to_z = 1.0 / (bank.norm * bank.scale)
    to_amp = 1.0 / bank.norm ** 2
    # Only the entries that can reach match_sigma with the drift (>= 1), at an amplitude
    # not under the range, are scored exactly: per unit and noise segment one lower
    # bound, loosened by 1e-5 against float32 rounding (on a busy block nearly every lag
    # has some unit over the plain bar, but only a few entries per discharge pass).
    slack = 1.0 - 1e-5
    floor = drift.runs(n_valid, params.match_sigma * bank.norm * bank.scale * slack,
                       (lo_amp * bank.norm ** 2 * slack).astype(np.float32))
    hit = np.empty(scores[:, :n_valid].shape, dtype=bool)
    touched = None  # lags whose scores the last subtraction changed
    for it in range(iterations):
        _at_least(scores, floor, out=hit)
        if touched is not None:  # later iterations: where the subtraction changed scores
            hit &= touched[None, :]
        uu, jj = np.divmod(np.flatnonzero(hit), n_valid)  # (faster than a 2-D nonzero)
        if uu.size == 0:
            break
        raw = scores[uu, jj].astype(float)
        z = raw * to_z[uu]
        z = z / drift.at(jj, uu)
        amp = raw * to_amp[uu]
        z[(amp < lo_amp) | (amp > hi_amp)] = -np.inf
        best = np.full(n_valid, -np.inf)
        np.maximum.at(best, jj, z)
        best[best < params.match_sigma] = -np.inf
        # Per lag the lowest unit reaching its best (argmax order).
        win = (z == best[jj]) & (z >= params.match_sigma)
        best_u = np.full(n_valid, len(bank))
        np.minimum.at(best_u, jj[win], uu[win])
        idx = np.flatnonzero(best >= params.match_sigma)
        if idx.size == 0:
            break
        interior = (idx > 0) & (idx < n_valid - 1)
        idx = idx[interior]
        is_max = (best[idx] > best[idx - 1]) & (best[idx] >= best[idx + 1])
        idx = idx[is_max]
        keep = detection._suppress(np.zeros(idx.size, dtype=int), idx, best[idx], dead, 0, 0.0)
        idx = idx[keep]
        if idx.size == 0:
            break
        m = BlockMatches(unit=best_u[idx], start=idx,
                         amplitude=scores[best_u[idx], idx] * to_amp[best_u[idx]],
                         score=best[idx])
        subtract(residual, m, bank)
        found.append(m)
        if it + 1 == iterations:
            break
        if m.unit.size * (2 * nk - 1) <= 4 * nfft_used:
            # Few picks: update every unit's score by the template cross-scores at the
            # picks' kernel lags (Kilosort's way), pick by pick in time order.
            _update_scores(scores, m, cross, nk)
        else:
            # Many picks (a busy block): score the residual afresh, one FFT of the block
            # and one inverse per unit. The same sums up to float32 rounding, and
            # cheaper than the updates beyond about 4 block lengths of pick lags
            # (measured: a pick's update costs about 1/1300 of the block's transforms).
            scores = unit_scores(residual, bank, nfft_used, out=buffer)
        # Lags whose kernel window the subtraction reached (as before: within a kernel
        # length of a pick).
        edges = np.bincount(np.maximum(m.start - (nk - 1), 0), minlength=n_valid + 1)[:n_valid + 1]
        edges = edges - np.bincount(np.minimum(m.start + nk, n_valid),
                                    minlength=n_valid + 1)[:n_valid + 1]
        touched = np.cumsum(edges)[:n_valid] > 0
    if not found:
        return BlockMatches(*(np.zeros(0, int),) * 2, np.zeros(0), np.zeros(0)), residual
    cat = lambda name: np.concatenate([getattr(f, name) for f in found])  # noqa: E731
    return BlockMatches(cat("unit"), cat("start"), cat("amplitude"), cat("score")), residual


def _update_scores(scores: np.ndarray, m: BlockMatches, cross: np.ndarray, nk: int) -> None:
    """Subtract each pick's cross-scores from every unit's scores, in place.

    Picks in time order, each over its contiguous lags: the float32 sums round as a
    sequential ``np.add.at`` over (pick, lag) does.
    """
    n_valid = scores.shape[1]
    delta = np.empty((cross.shape[0], cross.shape[2]), dtype=np.float32)
    for s, v, a in zip(m.start.tolist(), m.unit.tolist(), m.amplitude.tolist()):  # picks
        lo, hi = max(s - (nk - 1), 0), min(s + nk, n_valid)
        off = lo - (s - (nk - 1))
        # The product in float64, rounded to float32 on output (as ``.astype`` did).
        d = np.multiply(cross[:, v, off:off + hi - lo], a, out=delta[:, :hi - lo])
        scores[:, lo:hi] -= d


def subtract(data: np.ndarray, m: BlockMatches, bank: UnitBank, sign: float = 1.0) -> None:
    """Subtract (``sign=-1``: add back) the fitted templates of matches, in place.

    Few matches (a quiet block): match by match over the template's contiguous samples.
    Many (a busy block, thousands): per channel one weighted ``np.bincount`` of all the
    matches' samples over their span, added at once; where templates overlap, their sum
    is formed before it is added (the last bits may differ from adding them one by one).
    """
    if m.unit.size == 0:
        return
    w = bank.templates.shape[-1]
    n = data.shape[1]
    gain = -sign * m.amplitude         # each template's factor, as the (M, C, w) product had
    s = m.start + bank.pad
    lo, hi = np.maximum(s, 0), np.minimum(s + w, n)
    ok = np.flatnonzero(hi > lo)
    if ok.size == 0:
        return
    temps = bank.templates
    a0, b0 = int(lo[ok].min()), int(hi[ok].max())
    used = np.unique(m.unit[ok])
    chans = np.flatnonzero(np.any(temps[used] != 0, axis=(0, 2)))
    # The per-match loop costs about 5 us a match, the scatter about 2 ns per sample of
    # the span and channel.
    if chans.size * (b0 - a0) > 2500 * ok.size:
        # Bounds as Python ints up front, and no (M, C, w) array of products: the loop
        # body is a slice, one product and one add.
        for u, g, a, b, o in zip(m.unit[ok].tolist(), gain[ok].tolist(), lo[ok].tolist(),
                                 hi[ok].tolist(), (lo - s)[ok].tolist()):  # matches
            data[:, a:b] += temps[u, :, o:o + b - a] * g
        return
    pos = s[ok, None] + np.arange(w)[None, :]                          # (M, w)
    inside = (pos >= 0) & (pos < n)
    rel = (np.clip(pos, a0, b0 - 1) - a0).ravel()
    units, g = m.unit[ok], gain[ok][:, None]
    for c in chans.tolist():  # loop over the templates' channels
        weights = temps[units, c] * g
        if not inside.all():  # a template cut by the block's edge: its outside adds 0
            weights = np.where(inside, weights, 0.0)
        data[c, a0:b0] += np.bincount(rel, weights.ravel(), minlength=b0 - a0)


def add_matched_discharges(rec, picks, prep, sigma, params, geometry: Geometry, band, found,
                           skip_spans, ecg_model=None, cache: FilteredCache | None = None,
                           montage=None):
    """Return the scan with the discharges found by template matching (and, on an HD
    grid, by neighbourhood detection) added.

    Units are learnt from the scan's confident discharges; each block is read back
    band-passed (and ECG-subtracted) as the scan saw it, and matched. A match is new when
    no scan candidate whose main channel lies in the unit's footprint is within the dead
    time of its peak (a candidate largest elsewhere is another discharge, which this
    one may overlap), no candidate with artifact evidence is within ``merge_loose_ms``,
    the template explains the data (misfit under :data:`_MAX_MISFIT`), and its unit's main
    channel alone carries at least ``match_main_fraction`` of the fit. On a grid
    ``layout`` the residual is then searched for discharges seen together on a 3x3
    neighbourhood (:mod:`fascidetect.neighbourhood`) that no candidate of those
    electrodes explains. New discharges inside ``skip_spans`` (s: bad, task, motion and
    episode spans) are dropped, and a block wholly inside them is not matched (the
    same table, without the work). ``montage`` is the neighbourhood of
    :func:`fascidetect.neighbours.build`. New rows carry their ``match_score``; their snippets join
    the waveform sample while it has room. The new rows go into ``found``'s candidate
    table in place (in time order). Returns ``found`` unchanged when nothing is to be
    searched.
    """
    fs = rec.sfreq
    cands = found.candidates
    n_ch = len(sigma)
    grid = neighbourhood.grid_slots(params.layout, n_ch, params.layout_missing)
    temps, counts = learn_units(found, sigma, params, fs, skip_spans)
    if temps.shape[0] == 0 and grid is None:
        return found
    model = noise_model(rec, picks, prep, cands, geometry, ecg_model, cache)
    if model is None:
        return found
    bank = build_bank(temps, counts, sigma, model, params.threshold_sigma)
    model.windows, model.quiet_lags = [], []  # only build_bank's null needs them
    if bank is None and grid is None:
        return found
    white = neighbourhood.whitening(model.corr0, n_ch) if grid is not None else None
    unit_scale = np.where(sigma > 0, sigma, 1.0).astype(np.float32)
    parts, snip_parts = [], []
    room = max(0, params.max_waveforms - found.snippets.shape[0])
    n_snipped = 0
    art_times = np.sort(cands.sample[cands.artifact_kind != ""])
    # The samples of the candidates seen on each channel: only the grid's neighbourhood
    # detection reads them (issue 14: 1.2 MB for a day of 8 channels).
    by_channel = None if grid is None else [
        np.sort(cands.sample[cands.channels[:, c] | (cands.channel == c)]) for c in range(n_ch)]
    by_main = [np.sort(cands.sample[cands.channel == c]) for c in range(n_ch)]
    # The candidates seen on each channel though largest on another (a discharge whose
    # unit was learnt with that channel as its main one can be matched there again).
    seen_on = []
    for c in range(n_ch):  # (samples, main channels) in time order
        rows = np.flatnonzero(cands.channels[:, c] & (cands.channel != c))
        rows = rows[np.argsort(cands.sample[rows], kind="stable")]
        seen_on.append((cands.sample[rows], cands.channel[rows], np.abs(cands.amplitude[rows])))
    # The candidates' peak size (on their main channel), sorted as by_main.
    amp_by_main = [np.abs(cands.amplitude[cands.channel == c])[
        np.argsort(cands.sample[cands.channel == c])] for c in range(n_ch)]
    # The table waits in a temporary file while the blocks are matched (issue 14).
    parked = cands.park()
    _memory.release()  # what learning the units and the lists above left freed
    # One FFT length for every block (the longest), so the kernels are transformed once.
    longest = min(rec.n_samples, geometry.block + 2 * geometry.margin)
    nfft = _fft.next_fast_len(longest + (bank.n_kernel if bank is not None else 0), real=True)
    for start, stop, lo, hi in geometry.blocks(rec.n_samples):
        # The last block's arrays go before the next is read (on 256 channels each is
        # about 90 MB: held across the read, they doubled the pass's peak).
        filt = raw = clean = residual = m = None
        if inside_spans(start, stop, fs, skip_spans):
            # Every discharge the block could add would be dropped (a long annotated
            # task, episode or bad stretch): its matching cannot change the table.
            continue
        filt, raw = _filtered(rec, picks, prep, lo, hi, geometry, ecg_model, cache)
        seg0 = lo // geometry.segment
        local = found.block_sigma[:, seg0:(hi - 1) // geometry.segment + 1]
        found_here = []  # (local peak, main channel, membership, score) per new discharge
        if bank is not None:
            drift = _drift(local, sigma, bank.main, lo, seg0, geometry.segment,
                           bank.pad + bank.peak_offset)
            m, residual = match_block(filt, bank, params, geometry.half, drift, nfft=nfft)
            peak = m.peak(bank) + lo
            new = (peak >= start) & (peak < stop)
            new &= ~_near(peak, art_times, geometry.merge_loose)
            for u in np.unique(m.unit):  # loop over units: known discharges on their footprint
                sel = np.flatnonzero(m.unit == u)
                for c in np.flatnonzero(bank.footprint[u]):  # a few channels
                    sel = sel[~_near(peak[sel], by_main[c], geometry.merge_loose)]
                new[m.unit == u] &= np.isin(np.flatnonzero(m.unit == u), sel)
            new &= ~in_spans(peak / fs, skip_spans)
            rest = np.flatnonzero(new)
            new[rest] = ~_seen_alone(peak, rest, m, bank, seen_on, geometry.merge)
            # The tests below judge each match on its own: only the matches still new are
            # judged (on a busy block most matches are discharges the scan found already).
            # A discharge of the unit shows on the unit's own main channel.
            if params.match_main_fraction > 0:
                rest = np.flatnonzero(new)
                seen, fitted = main_channel_support(residual, _rows(m, rest), bank, local, lo,
                                                    seg0, geometry.segment)
                new[rest] = seen >= params.match_main_fraction * fitted
            # The scan's echo rule: under shadow_fraction of a larger discharge largest on
            # the same channel within shadow_ms, a potential is its later phase or ringing.
            rest = np.flatnonzero(new)
            unit_r = m.unit[rest]
            own_amp = m.amplitude[rest] * np.abs(bank.templates[unit_r, bank.main[unit_r]]
                                                 ).max(axis=-1)
            for c in np.unique(bank.main[unit_r]):  # loop over main channels
                sel = np.flatnonzero(bank.main[unit_r] == c)
                at = peak[rest[sel]]
                big = _largest_near(at, by_main[c], amp_by_main[c], geometry.shadow)
                # The channel's own samples too (as the scan's per-channel echo rule): a
                # potential largest on another channel rings here as well.
                big = np.maximum(big, _window_max(filt[c], at - lo, geometry.shadow))
                new[rest[sel]] = own_amp[sel] >= params.shadow_fraction * big
            # The template explains the data (the costliest test, so the last).
            rest = np.flatnonzero(new)
            new[rest] = _fits(residual, m, bank, local, lo, seg0, geometry.segment,
                              rows=rest) <= _MAX_MISFIT
            keep = np.flatnonzero(new)
            own = _rows(m, keep)
            # Features on the block with the other matches subtracted: an overlapped
            # discharge is described by its own waveform, not by the sum.
            subtract(residual, own, bank, sign=-1.0)
            clean = residual
            found_here.append((own.peak(bank), bank.main[own.unit], bank.channels[own.unit],
                               own.score))
        else:
            clean = np.asarray(filt, dtype=float)
        if grid is not None:
            found_here.append(_grid_discharges(clean, local, lo, seg0, start, stop, grid,
                                               white, params, geometry, by_channel, art_times,
                                               skip_spans, fs, n_ch))
        idx = np.concatenate([f[0] for f in found_here])
        if idx.size == 0:
            continue
        ch = np.concatenate([f[1] for f in found_here])
        members = np.concatenate([f[2] for f in found_here])
        score = np.concatenate([f[3] for f in found_here])
        if raw is None:
            raw, _ = preprocessing.repair_nonfinite(rec.get_data(picks, lo, hi))
        order = np.argsort(idx, kind="stable")
        local_rel = found.block_sigma[:, start // geometry.segment:
                                      (stop - 1) // geometry.segment + 1]
        new_c, snips = describe_discharges(clean, raw, start, stop, lo, ch, idx,
                                           np.arange(idx.size), order, np.arange(idx.size),
                                           local_rel, geometry, band, fs, params)
        # describe_discharges keeps time order: the new discharges sorted by peak.
        new_c.channels = members[order]
        new_c.match_score = score[order]
        parts.append(new_c)
        # Only the first discharges fit in the waveform sample (it has a cap): the others'
        # snippets are not kept across the pass.
        take = min(len(new_c), max(0, room - n_snipped))
        if take:
            snip_parts.append(np.clip(snips[:take] / unit_scale[None, :, None], -_F16_MAX,
                                      _F16_MAX).astype(np.float16))
            n_snipped += take
        if len(parts) >= _MERGE_PARTS:
            # One table for every few dozen blocks: each block's table is some 30 small
            # Python objects, and over a day's 1,440 blocks they held 4 MB of the Python
            # heap, scattered among the blocks' freed temporaries (issue 14).
            parts = [Candidates.concatenate(parts, consume=True)]
    # The bank's per-length arrays (kernel spectra, the scores) go before the tables
    # are merged: held there they would add about 20 MB to the pass's peak.
    bank = filt = raw = clean = residual = m = None
    _memory.release()  # the blocks' temporaries, under the merged table
    cands.unpark(parked)
    del parked
    if not parts:
        return found
    added = Candidates.concatenate(parts, consume=True)
    if "common_spread" in cands.features:
        # On a declared montage the scan's rows carry the channels and muscles coincident
        # with them; a new row's are those of its unit's footprint.
        added.features["common_spread"] = added.spread
        muscle = montage.muscle if montage is not None else np.zeros(n_ch, int)
        seen = np.zeros((len(added), int(muscle.max()) + 1), dtype=bool)
        rows, chans = np.nonzero(added.channels)
        seen[rows, muscle[chans]] = True
        added.features["common_muscles"] = seen[:, 1:].sum(axis=1)  # 0: undeclared
    if "span_peaks" in cands.features:
        # The scan's rows count the peaks their phase span absorbed (low rates, or a
        # ``one_sample_phase_ms`` under the sample period); a matched discharge is one
        # potential of a learnt unit: it stands for itself.
        added.features["span_peaks"] = np.zeros(len(added),
                                                dtype=cands.features["span_peaks"].dtype)
    if "footprint_p" in cands.features:
        # A matched discharge's footprint is its unit's template: supported.
        added.features["footprint_p"] = np.zeros(len(added))
    added.snip_row = np.where(np.arange(len(added)) < room,
                              found.snippets.shape[0] + np.arange(len(added)), -1)
    snippets = found.snippets if not snip_parts else \
        _spill.append_rows(found.snippets, snip_parts)
    added.narrow_integers(rec.n_samples)  # as the scan's rows (int32 indices)
    cands.insert_by_sample(added)  # in place: the table is not held twice
    return dataclasses.replace(found, candidates=cands, snippets=snippets)


#: Blocks' tables of new discharges joined into one as the pass goes (the scan's
#: ``_MERGE_BLOCKS``).
_MERGE_PARTS = 64


def inside_spans(start: int, stop: int, sfreq: float, spans) -> bool:
    """Return whether every sample of ``[start, stop)`` lies inside ``spans`` (s), as
    :func:`fascidetect.spans.in_spans` judges a new discharge's peak (``sample / sfreq``).

    Examples
    --------
    >>> inside_spans(100, 200, 100.0, [(0.5, 1.5), (1.5, 2.5)])
    True
    >>> inside_spans(100, 200, 100.0, [(0.5, 1.5), (1.6, 2.5)])
    False
    """
    if not len(spans) or stop <= start:
        return False
    # The ends first (a block whose first or last sample is outside: the usual case).
    if not in_spans(np.array([start, stop - 1]) / sfreq, spans).all():
        return False
    return bool(in_spans(np.arange(start, stop) / sfreq, spans).all())


def main_channel_support(residual, m: BlockMatches, bank: UnitBank, local, lo, seg0,
                         segment) -> tuple[np.ndarray, np.ndarray]:
    """Return, per match, its unit's waveform as seen on the main channel alone.

    The main channel's samples over the template window (the residual with the match
    added back) are projected on the template's main-channel waveform and expressed in
    noise sigmas of that projection (``<x, t> / (sigma ||t||)``, white-noise scale); the
    same for the fitted template (``gain ||t|| / sigma``) gives what a discharge of that
    unit at the fitted gain would show there.

    Parameters
    ----------
    residual : ndarray, shape (n_channels, n)
        The block after every match was subtracted.
    m : BlockMatches
    bank : UnitBank
    local : ndarray, shape (n_channels, n_segments)
        Local noise sigma per channel and segment of the block.
    lo, seg0, segment : int
        Block start, its first segment and the segment length (samples).

    Returns
    -------
    own, fitted : ndarray of float
        The main channel's projection and the fitted template's, in sigmas.
    """
    own = np.zeros(m.unit.size)
    fitted = np.zeros(m.unit.size)
    if m.unit.size == 0:
        return own, fitted
    w = bank.templates.shape[-1]
    main = bank.main[m.unit]
    t = bank.templates[m.unit, main]                                     # (M, w)
    centre = m.start + bank.pad + w // 2
    k = np.clip((lo + np.clip(centre, 0, residual.shape[1] - 1)) // segment - seg0, 0,
                local.shape[1] - 1)
    sig = local[main, k]
    sig = np.where(sig > 0, sig, np.inf)
    x = _features.cut_channel_snippets(residual, main, centre, w // 2)
    x += m.amplitude[:, None] * t                                        # match added back
    norm = np.sqrt(np.sum(t * t, axis=1))
    norm = np.where(norm > 0, norm, np.inf)
    own = np.sum(x * t, axis=1) / (norm * sig)
    fitted = m.amplitude * norm / sig
    return own, fitted


def _fits(residual, m: BlockMatches, bank: UnitBank, local, lo, seg0, segment,
          rows: np.ndarray | None = None) -> np.ndarray:
    """Return each match's misfit: the mean squared residual, in local noise sigmas, over
    its unit's kernel channels and template window (about 1 when the template explains
    the discharge; far more when the score came from a larger potential of another shape
    on some of those channels). ``rows``: only of these matches (in that order)."""
    rows = np.arange(m.unit.size) if rows is None else np.asarray(rows)
    units = m.unit[rows]
    out = np.zeros(rows.size)
    w = bank.templates.shape[-1]
    half = w // 2
    for u in np.unique(units):  # loop over units
        sel = np.flatnonzero(units == u)
        judged = sel
        if sel.size == 1 and np.count_nonzero(m.unit == u) > 1:
            # The mean over (channel, sample) of a single match's (C_u, 1, w) array sums
            # in another order than a (C_u, M, w) array's: as if judged with the others.
            judged = np.r_[sel, sel]
        chans = bank.kernel_channels[u]
        centre = m.start[rows[judged]] + bank.pad + half
        k = np.clip((lo + np.clip(centre, 0, residual.shape[1] - 1)) // segment - seg0, 0,
                    local.shape[1] - 1)
        sig = local[chans[:, None], k[None, :]]                                  # (C_u, M)
        sig = np.where(sig > 0, sig, np.inf)
        # Each channel's window of each match, copied as a whole run of samples.
        r = _features.cut_channel_snippets(
            residual, np.repeat(chans, judged.size), np.tile(centre, chans.size), half
        ).reshape(chans.size, judged.size, w)                                    # (C_u, M, w)
        r /= sig[:, :, None]
        np.square(r, out=r)
        out[sel] = r.mean(axis=(0, 2))[:sel.size]
    return out


def _rows(m: BlockMatches, rows: np.ndarray) -> BlockMatches:
    """Return the matches ``rows`` of ``m``."""
    return BlockMatches(m.unit[rows], m.start[rows], m.amplitude[rows], m.score[rows])


def _grid_discharges(clean, local, lo, seg0, start, stop, grid, white, params, geometry,
                     by_channel, art_times, skip_spans, fs, n_ch):
    """Return the block's new neighbourhood discharges as (local peak, main channel,
    membership, score): owned by the block, no candidate of the neighbourhood's
    electrodes within ``merge_loose_ms``, none with artifact evidence, outside the
    skipped spans."""
    k = np.clip((lo + np.arange(clean.shape[1])) // geometry.segment - seg0, 0,
                local.shape[1] - 1)
    scale = np.where(local > 0, local, np.inf).astype(np.float32)
    y = clean.astype(np.float32) / scale[:, k]
    idx, main, members, z = neighbourhood.find_neighbourhood_peaks(
        y, grid, params.neighbourhood_sigma, geometry.merge, white)
    t = idx + lo
    new = (t >= start) & (t < stop) & ~_near(t, art_times, geometry.merge_loose)
    new &= ~in_spans(t / fs, skip_spans)
    for c in np.unique(members):  # loop over electrodes: known discharges there
        has = (members == c).any(axis=1)
        new[has] &= ~_near(t[has], by_channel[c], geometry.merge_loose)
    seen = np.zeros((idx.size, n_ch), dtype=bool)
    rows = np.repeat(np.arange(idx.size), members.shape[1])
    seen[rows, members.ravel()] = np.abs(y[members.ravel(), np.repeat(idx, members.shape[1])]) \
        >= params.neighbourhood_member_sigma
    seen[np.arange(idx.size), main] = True
    return idx[new], main[new], seen[new], z[new]


def _filtered(rec, picks, prep, lo, hi, geometry, ecg_model, cache=None):
    """Return band-passed samples ``[lo, hi)`` filtered with the scan's margins (and ECG
    subtraction), and the raw (repaired) samples (None when taken from ``cache``)."""
    if cache is not None and cache.complete:
        return cache.get(lo, hi), None
    n = rec.n_samples
    a, b = max(0, lo - geometry.margin), min(n, hi + geometry.margin)
    raw, _ = preprocessing.repair_nonfinite(rec.get_data(picks, a, b))
    filt = prep.apply(raw, a)
    if ecg_model is not None:
        ecg.subtract(filt, a, ecg_model)
    return filt[:, lo - a:hi - a], raw[:, lo - a:hi - a]


def _drift(local, sigma, main, lo, seg0, segment, offset):
    """Return the local noise of each unit's main channel at its peak over the channel's
    floor (at least 1), per noise segment (:class:`_Drift`)."""
    ratio = local[main] / np.where(sigma[main] > 0, sigma[main], 1.0)[:, None]   # (U, n_seg)
    return _Drift(np.maximum(ratio, 1.0), lo, seg0, segment, offset)


class _Drift:
    """Per-unit noise ratio, constant over each noise segment; ``offset`` places a
    unit's main-channel peak within its kernel window (lags are local to a block
    starting at sample ``lo``, whose first segment is ``seg0``)."""

    def __init__(self, ratio, lo, seg0, segment, offset):
        self.ratio, self.lo, self.seg0, self.segment = ratio, lo, seg0, segment
        self.offset = np.asarray(offset)

    def at(self, lags, units):
        """Return the ratio at each (lag, unit) pair."""
        k = np.clip((self.lo + self.offset[units] + lags) // self.segment - self.seg0, 0,
                    self.ratio.shape[1] - 1)
        return self.ratio[units, k]

    def runs(self, n, scale, minimum=None):
        """Return ``scale[u] * ratio`` at lags ``0..n-1`` as runs: the float32 values
        (n_units, n_segments), at least ``minimum[u]`` (float32) when given, and each
        run's lag bounds (n_units, n_segments + 1): unit ``u`` has ``values[u, j]`` at
        lags ``bounds[u, j]:bounds[u, j + 1]``."""
        n_u, n_seg = self.ratio.shape
        # Per unit, the lags from which the segment index has grown past 0, 1, ...
        edges = (self.seg0 + np.arange(1, n_seg))[None, :] * self.segment - self.lo \
            - self.offset[:, None]
        bounds = np.concatenate([np.zeros((n_u, 1), dtype=edges.dtype), np.clip(edges, 0, n),
                                 np.full((n_u, 1), n, dtype=edges.dtype)], axis=1)
        values = (np.asarray(scale)[:, None] * self.ratio).astype(np.float32)
        if minimum is not None:
            np.maximum(values, np.asarray(minimum, dtype=np.float32)[:, None], out=values)
        return values, bounds


def _at_least(scores: np.ndarray, floor, out: np.ndarray) -> np.ndarray:
    """Return ``scores >= floor`` in ``out`` (shape (n_units, n)), the floor given as the
    runs of :meth:`_Drift.runs`: a comparison per unit and noise segment with its float32
    value, instead of a (n_units, n) array of floors (a busy block's 15 MB, filled and
    read once per iteration)."""
    values, bounds = floor
    for u in range(values.shape[0]):  # loop over units
        for j in range(values.shape[1]):  # a few noise segments
            a, b = bounds[u, j], bounds[u, j + 1]
            if b > a:
                np.greater_equal(scores[u, a:b], values[u, j], out=out[u, a:b])
    return out


def _largest_near(samples, sorted_ref, values, distance):
    """Return the largest of ``values`` (sorted as ``sorted_ref``) within ``distance`` of
    each sample (0 when none)."""
    if sorted_ref.size == 0 or samples.size == 0:
        return np.zeros(samples.size)
    a = np.searchsorted(sorted_ref, samples - distance, side="left")
    b = np.searchsorted(sorted_ref, samples + distance, side="right")
    width = max(1, int((b - a).max()))
    idx = a[:, None] + np.arange(width)[None, :]
    inside = idx < b[:, None]
    return np.where(inside, values[np.minimum(idx, values.size - 1)], 0.0).max(axis=1)


def _window_max(trace, at, half):
    """Return the largest ``|trace|`` within ``half`` samples of each index in ``at``.

    Parameters
    ----------
    trace : ndarray, shape (n,)
        One channel's band-passed samples.
    at : ndarray of int
        Indices into ``trace`` (clipped to it).
    half : int
        Half-width of the window, samples.

    Returns
    -------
    ndarray of float
    """
    if at.size == 0 or trace.size == 0:
        return np.zeros(at.size)
    at = np.clip(at, 0, trace.size - 1)
    width = 2 * int(half) + 1
    if at.size * width > trace.size:
        running = ndimage.maximum_filter1d(np.abs(trace), size=width, mode="nearest")
        return running[at]
    # Few indices (the usual case): only their windows, not the whole trace (the same
    # maxima: clipping the window to the trace is the filter's "nearest" edge).
    window = np.clip(at[:, None] + np.arange(-int(half), int(half) + 1)[None, :], 0,
                     trace.size - 1)
    return np.abs(np.take(trace, window)).max(axis=1)


def _seen_alone(peak, rows, m: BlockMatches, bank: UnitBank, seen_on, distance
                ) -> np.ndarray:
    """Whether each match ``rows`` (of the block's matches ``m``, peaks ``peak``) is a
    scan candidate's discharge counted again: a candidate seen on the match's unit's main
    channel lies within ``distance`` samples, the fitted unit accounts for at least half
    the candidate's peak on the candidate's own main channel, and no other match is that
    near to it.

    A unit can be learnt twice from one motor unit's discharges when they are about as
    large on two channels; a discharge found largest on the one is then matched by the
    unit of the other. Another match beside the candidate is its own discharge, and this
    one a second discharge overlapping it (two units a few ms apart); so is a match
    whose unit is small where the candidate is largest (two muscles' units firing
    together: the candidate is seen on this unit's channel only through it).
    ``seen_on[c]`` is ``(samples, main channels, peak sizes)`` of the candidates seen on
    channel ``c`` though largest elsewhere, in time order.
    """
    out = np.zeros(rows.size, dtype=bool)
    by_peak = np.sort(peak)
    units = m.unit[rows]
    main = bank.main[units]
    size = np.abs(bank.templates).max(axis=-1)  # (units, channels)
    for c in np.unique(main):  # loop over main channels
        sel = np.flatnonzero(main == c)
        ref, ref_main, ref_size = seen_on[c]
        if ref.size == 0:
            continue
        at = peak[rows[sel]]
        right = np.minimum(np.searchsorted(ref, at), ref.size - 1)
        left = np.maximum(right - 1, 0)
        k = np.where(np.abs(ref[left] - at) <= np.abs(ref[right] - at), left, right)
        cand = ref[k]
        close = np.abs(cand - at) <= distance
        # The unit's fitted size where the candidate is largest.
        fitted = np.abs(m.amplitude[rows[sel]]) * size[units[sel], ref_main[k]]
        close &= fitted >= 0.5 * ref_size[k]
        # Matches near the candidate (this one among them).
        n_near = (np.searchsorted(by_peak, cand + distance, side="right")
                  - np.searchsorted(by_peak, cand - distance, side="left"))
        out[sel] = close & (n_near < 2)
    return out


def _near(samples, sorted_ref, distance):
    """Return a mask: a reference sample lies within ``distance`` of each sample."""
    if sorted_ref.size == 0 or samples.size == 0:
        return np.zeros(samples.size, dtype=bool)
    a = np.searchsorted(sorted_ref, samples - distance, side="left")
    b = np.searchsorted(sorted_ref, samples + distance, side="right")
    return b > a
