"""Shared pieces of truth rows: which channels see an event, channel lists, and the
noise that amplitudes given in noise sigmas refer to."""

from __future__ import annotations

import numpy as np


def _visible(values_uv, noise_uv, snr):
    # A channel "sees" an event when its p2p (or RMS) is at least snr x the noise RMS;
    # with noise switched off, anything above 0.1 µV counts.
    return values_uv >= snr * np.maximum(noise_uv, 0.1 / max(snr, 1e-9))


def _join(names, mask):
    return ",".join(n for n, m in zip(names, mask) if m)


#: Noise level that amplitudes given in noise sigmas refer to when the noise is off (µV).
_NOISE_OFF_REFERENCE_UV = 1.0


def _reference_noise(noise_uv):
    """Return the per-channel noise that amplitudes in noise sigmas are scaled to.

    The in-band noise itself, or 1 µV on a channel without noise. So, unlike other
    amplitudes, those given in noise sigmas change when the noise is switched off; the
    timing and channels of the events do not (they use the same draws).
    """
    noise_uv = np.asarray(noise_uv, float)
    return np.where(noise_uv > 0, noise_uv, _NOISE_OFF_REFERENCE_UV)
