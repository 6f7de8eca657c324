"""Shared fixtures: the real recordings folder and small synthetic EMG with known truth."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from fascidetect.errors import FascidetectWarning

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("FASCIDETECT_SHARED_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real recordings beside the repository (skip when absent)."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared test recordings not found at {path}: they live outside the "
                    "repository (set FASCIDETECT_SHARED_DATA to point at them)")
    return path


@pytest.fixture(autouse=True)
def _quiet_fascidetect_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)
        yield


def muap(sfreq: float, duration_ms: float = 12.0, phases: int = 2, p2p_v: float = 100e-6):
    """Return a surface-like motor-unit potential (Hermite-Gaussian) of given p2p."""
    t = np.arange(-duration_ms / 2, duration_ms / 2, 1000.0 / sfreq) / (duration_ms / 6)
    g = np.exp(-t ** 2)
    wave = -2 * t * g if phases == 2 else (4 * t ** 2 - 2) * g
    return p2p_v * wave / np.ptp(wave)


def synthetic_emg(sfreq=2048.0, duration_s=60.0, n_channels=4, n_discharges=40,
                  noise_uv=3.0, p2p_uv=120.0, seed=0, min_gap_s=0.3):
    """Return (data in V, discharge centre times in s, main channel per discharge)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sfreq)
    data = noise_uv * 1e-6 * rng.standard_normal((n_channels, n))
    times = np.sort(rng.uniform(0.5, duration_s - 0.5, n_discharges))
    # keep discharges apart so truth is unambiguous
    keep = np.concatenate([[True], np.diff(times) > min_gap_s])
    times = times[keep]
    chans = rng.integers(0, n_channels, times.size)
    wave = muap(sfreq, p2p_v=p2p_uv * 1e-6, phases=3)
    half = wave.size // 2
    for t, c in zip(times, chans):  # test fixture; a handful of discharges
        i = int(round(t * sfreq)) - half
        data[c, i:i + wave.size] += wave
        if c + 1 < n_channels:
            data[c + 1, i:i + wave.size] += 0.3 * wave
    return data, times, chans
