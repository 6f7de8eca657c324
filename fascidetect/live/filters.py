"""Causal, stateful filters for streamed chunks and the adaptive noise estimate.

These draw the live traces and feed the fault checks. They keep their state across
chunks (``sosfilt`` with ``zi``), so filtering a recording chunk by chunk gives exactly
what filtering it in one piece causally gives.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

_MAD_TO_SIGMA = 1.4826


class CausalFilter:
    """Band-pass (Butterworth) plus optional mains notches, state kept between chunks.

    Parameters
    ----------
    sfreq : float
        Sampling rate, Hz.
    n_channels : int
    band : tuple of float
        (low, high) edges in Hz.
    order : int
        Butterworth order of the band-pass.
    """

    def __init__(self, sfreq: float, n_channels: int, band: tuple, order: int = 4):
        self.sfreq = float(sfreq)
        self.n_channels = int(n_channels)
        self._sos = signal.butter(order, band, btype="bandpass", fs=sfreq, output="sos")
        self._zi = np.zeros((self._sos.shape[0], self.n_channels, 2))
        self._primed = False
        self.notch_hz: tuple = ()

    def add_notches(self, freqs_hz, q: float = 30.0) -> None:
        """Append notch sections at ``freqs_hz`` (once the mains frequency is known)."""
        nyq = self.sfreq / 2.0
        new = [f for f in freqs_hz if 0 < f < 0.95 * nyq and f not in self.notch_hz]
        if not new:
            return
        sections = [signal.tf2sos(*signal.iirnotch(f, q, fs=self.sfreq)) for f in new]
        self._sos = np.vstack([self._sos, *sections])
        # New sections start from rest; their transient lasts about q / f seconds.
        self._zi = np.concatenate([self._zi, np.zeros((len(new), self.n_channels, 2))])
        self.notch_hz = tuple(self.notch_hz) + tuple(new)

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """Return the filtered chunk, shape ``(n_channels, n_samples)``."""
        chunk = np.asarray(chunk, dtype=float)
        if chunk.shape[1] == 0:
            return chunk
        if not self._primed:
            # Start from the steady state of the first sample: no step response to a DC offset.
            self._zi = signal.sosfilt_zi(self._sos)[:, None, :] * chunk[:, 0][None, :, None]
            self._primed = True
        out, self._zi = signal.sosfilt(self._sos, np.nan_to_num(chunk), axis=1, zi=self._zi)
        return out


class NoiseTracker:
    """Adaptive noise floor per channel from causally filtered samples.

    Each ``block_s`` block gives a robust sigma (MAD); the floor is a low percentile of
    the last ``n_blocks`` blocks, so discharges and short bursts do not lift it and it
    follows slow changes of the skin contact.
    """

    def __init__(self, sfreq: float, n_channels: int, block_s: float = 0.5, n_blocks: int = 20,
                 percentile: float = 10.0):
        self.block = max(int(round(block_s * sfreq)), 8)
        self.n_blocks = n_blocks
        self.percentile = percentile
        self._pending = np.empty((n_channels, 0))
        self._history = np.empty((n_channels, 0))
        self.last_block_sigma = np.full(n_channels, np.nan)

    def update(self, filtered: np.ndarray) -> np.ndarray:
        """Feed filtered samples; return the sigma of each finished block, shape (n, k)."""
        data = np.concatenate([self._pending, filtered], axis=1)
        k = data.shape[1] // self.block
        self._pending = data[:, k * self.block:]
        if k == 0:
            return np.empty((data.shape[0], 0))
        blocks = data[:, :k * self.block].reshape(data.shape[0], k, self.block)
        med = np.median(blocks, axis=2, keepdims=True)
        sig = _MAD_TO_SIGMA * np.median(np.abs(blocks - med), axis=2)
        self._history = np.concatenate([self._history, sig], axis=1)[:, -self.n_blocks:]
        self.last_block_sigma = sig[:, -1]
        return sig

    @property
    def sigma(self) -> np.ndarray:
        """Current noise floor per channel, V (NaN before the first block)."""
        if self._history.shape[1] == 0:
            return np.full(self._history.shape[0], np.nan)
        return np.percentile(self._history, self.percentile, axis=1)
