"""Benchmark recordings: realistic EMG blocks streamed into plain EDF files of any length.

A streaming writer (header + int16 data records) lets the 24-hour file be written in
bounded memory; MNE's exporter needs the whole array in memory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

PHYS_RANGE_UV = 3276.7  # +/-3.2767 mV over int16: 0.1 µV resolution


#: The "busy" hour of the issue-14 measurements: the rest scenario with 25-35 units
#: firing 80-200 times a minute and two tonic stretches per minute (about 137k events/h).
BUSY = {"n_fasc_units": (25, 35), "fasc_rate_per_min": (80.0, 200.0), "n_tonic": 2}


def emg_block(sfreq: float, n_channels: int, seconds: float, seed: int,
              scenario="rest") -> np.ndarray:
    """Return (n_channels, n_samples) volts: coloured noise plus sparse MUAPs and hum."""
    try:
        from fascidetect.simulation import simulate
        from fascidetect.simulation.scenarios import get_scenario

        if scenario == "busy":
            scenario = get_scenario("rest").replace(name="busy", **BUSY)
        rec, _ = simulate(duration_s=seconds, sfreq=sfreq, n_channels=n_channels,
                          scenario=scenario, seed=seed)
        return rec.get_data()
    except Exception:  # simulator unavailable or not fitting: a plain fallback
        rng = np.random.default_rng(seed)
        n = int(seconds * sfreq)
        x = 3e-6 * rng.standard_normal((n_channels, n))
        t = np.arange(-0.008, 0.008, 1 / sfreq) / 0.002
        wave = 120e-6 * (4 * t ** 2 - 2) * np.exp(-t ** 2) / 2.9
        for k in rng.integers(0, n - wave.size, size=int(seconds / 2)):
            x[rng.integers(n_channels), k:k + wave.size] += wave
        x += 2e-6 * np.sin(2 * np.pi * 50 * np.arange(n) / sfreq)
        return x


def write_edf(path: Path, sfreq: float, ch_names: list[str], blocks, n_records: int,
              record_s: float = 1.0) -> Path:
    """Write an EDF file from an iterator of (n_channels, k*record_samples) blocks."""
    ns = len(ch_names)
    spr = int(round(sfreq * record_s))
    start = dt.datetime(2026, 1, 1, 8, 0, 0)

    def field(value, width):
        return str(value)[:width].ljust(width).encode("ascii")

    header = b"".join([
        field("0", 8), field("X X X X", 80), field("Startdate 01-JAN-2026 X X fascidetect-bench", 80),
        field(start.strftime("%d.%m.%y"), 8), field(start.strftime("%H.%M.%S"), 8),
        field(256 * (ns + 1), 8), field("", 44), field(n_records, 8), field(f"{record_s:g}", 8),
        field(ns, 4),
    ])
    per = [
        [field(n, 16) for n in ch_names], [field("AgAgCl electrode", 80)] * ns,
        [field("uV", 8)] * ns, [field(f"{-PHYS_RANGE_UV}", 8)] * ns,
        [field(f"{PHYS_RANGE_UV}", 8)] * ns, [field("-32767", 8)] * ns, [field("32767", 8)] * ns,
        [field("HP:0.1Hz LP:1000Hz", 80)] * ns, [field(spr, 8)] * ns, [field("", 32)] * ns,
    ]
    header += b"".join(b"".join(col) for col in per)
    scale = 32767 / (PHYS_RANGE_UV * 1e-6)
    written = 0
    with open(path, "wb") as fh:
        fh.write(header)
        for block in blocks:
            k = block.shape[1] // spr
            k = min(k, n_records - written)
            if k <= 0:
                break
            digital = np.clip(np.rint(block[:, :k * spr] * scale), -32767, 32767).astype("<i2")
            # EDF stores record by record, each record channel by channel.
            fh.write(digital.reshape(ns, k, spr).transpose(1, 0, 2).tobytes())
            written += k
    if written != n_records:
        raise RuntimeError(f"wrote {written} of {n_records} records")
    return path


def make_recording(path: Path, sfreq: float, n_channels: int, minutes: float,
                   seed: int = 0, scenario: str = "rest") -> Path:
    """Write (or reuse) an EDF of ``minutes`` built from cycled 60-s realistic blocks.

    ``scenario="busy"`` uses :data:`BUSY` (many units, tonic stretches).
    """
    if path.exists():
        return path
    names = _channel_names(n_channels)
    base = [emg_block(sfreq, n_channels, 60.0, seed + i, scenario) for i in range(3)]
    n_records = int(round(minutes * 60))

    def blocks():
        i = 0
        while True:
            yield base[i % len(base)]
            i += 1

    tmp = path.with_suffix(".tmp")
    write_edf(tmp, sfreq, names, blocks(), n_records)
    tmp.replace(path)
    return path


def _channel_names(n: int) -> list[str]:
    leg = ["TA_R", "EHL_R", "PL_R", "GAS_R", "SOL_R", "VL_R", "BF_R", "GMED_R"]
    if n <= len(leg):
        return [f"EMG {m}" for m in leg[:n]]
    side = int(np.ceil(np.sqrt(n)))
    return [f"EMG R{i // side + 1}C{i % side + 1}" for i in range(n)]
