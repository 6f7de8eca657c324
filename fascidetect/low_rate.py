"""What a low sampling rate cannot resolve, said in the results' warnings.

Consumer boards sample at 125-250 Hz. There the detection band ends at 0.45 fs
(56 Hz at 125 Hz), far under the 50-400 Hz where a 5-20 ms surface potential keeps
most of its energy, and a potential is one to four samples long. The warnings give
the figures for the recording's own rate: the band, how much of a brief potential's
energy is left in it, and how close two discharges of one channel may be and still be
counted apart.
"""

from __future__ import annotations

import numpy as np

from .blocks import phase_span_samples
from .params import DetectionParams

#: Reference band of surface EMG the shares are taken against, Hz (SENIAM).
_FULL_BAND_HZ = (20.0, 450.0)
#: Durations of the reference potentials, ms (domain: surface potentials last 5-20 ms).
_REFERENCE_MS = (5.0, 10.0)


def band_energy_share(duration_ms: float, low_hz: float, high_hz: float) -> float:
    """Return the share of a biphasic potential's 20-450 Hz energy within a band.

    The potential is the first Hermite-Rodriguez function (the classical model of a
    surface motor-unit potential, Lo Conte et al. 1994) lasting ``duration_ms`` (its
    span above 5 % of the peak). Its energy spectrum is analytic:
    ``|F(f)|^2 ~ f^2 exp(-(pi w f)^2 * 2)`` with ``w = duration / 4.6``.

    Parameters
    ----------
    duration_ms : float
    low_hz, high_hz : float
        The band, Hz.

    Returns
    -------
    float
        Between 0 and 1.

    Examples
    --------
    >>> round(band_energy_share(10.0, 20.0, 56.25), 2)
    0.1
    >>> round(band_energy_share(10.0, 20.0, 450.0), 2)
    1.0
    """
    w = duration_ms / 4.6 / 1000.0
    f = np.linspace(0.0, _FULL_BAND_HZ[1], 9001)
    power = f ** 2 * np.exp(-2.0 * (np.pi * w * f) ** 2)
    full = (f >= _FULL_BAND_HZ[0]) & (f <= _FULL_BAND_HZ[1])
    band = (f >= low_hz) & (f <= min(high_hz, _FULL_BAND_HZ[1]))
    return float(power[band].sum() / power[full].sum())


def rate_warnings(sfreq: float, params: DetectionParams) -> list[str]:
    """Return the warnings of a recording sampled at ``sfreq`` (none at >= 1 kHz).

    Parameters
    ----------
    sfreq : float
        Sampling rate, Hz.
    params : DetectionParams

    Returns
    -------
    list of str

    Examples
    --------
    >>> from fascidetect.params import DetectionParams
    >>> w = rate_warnings(125.0, DetectionParams())
    >>> len(w), "20-56 Hz" in w[1], "24 ms" in w[2]
    (3, True, True)
    >>> rate_warnings(2048.0, DetectionParams())
    []
    """
    if sfreq >= params.shape_min_sfreq_hz:
        return []
    low, high = params.band_for(sfreq)
    out = [f"sampling rate {sfreq:g} Hz is under {params.shape_min_sfreq_hz:g} Hz: "
           "discharges are detected but waveform shape features (duration, phases, turns) "
           "are unreliable, motor units are not separated, and potentials shorter than two "
           "samples cannot be told from one-sample glitches"]
    shares = [band_energy_share(d, low, high) for d in _REFERENCE_MS]
    if shares[1] < 0.5:
        out.append(
            f"the detection band is {low:g}-{high:.0f} Hz at this rate: a 10-ms surface "
            f"potential keeps {100 * shares[1]:.0f} % of its 20-450 Hz energy there and a "
            f"5-ms one {100 * shares[0]:.0f} %, so small and brief fasciculations fall "
            "under the threshold: the rate is a lower bound, and a low rate or none does "
            "not mean few fasciculations (record at >= 1000 Hz to count them)")
    span = phase_span_samples(sfreq, params)
    if span > 0:
        out.append(
            f"discharges of one channel less than {1000.0 * span / sfreq:.0f} ms apart are "
            f"counted once ({span} samples: at this rate a potential's phases cannot be told "
            "from a second discharge), so doublets closer than that are not resolved and the "
            "doublet share counts only wider ones")
    return out
