"""Shared pieces of truth rows: which channels see an event, and channel lists."""

from __future__ import annotations

import numpy as np


def _visible(values_uv, noise_uv, snr):
    # A channel "sees" an event when its p2p (or RMS) is at least snr x the noise RMS;
    # with noise switched off, anything above 0.1 µV counts.
    return values_uv >= snr * np.maximum(noise_uv, 0.1 / max(snr, 1e-9))


def _join(names, mask):
    return ",".join(n for n, m in zip(names, mask) if m)
