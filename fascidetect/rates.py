"""The per-channel table: noise, status, fasciculation count and rate per minute of
rest with its 95 % Poisson interval, and spasm time."""

from __future__ import annotations

import numpy as np

from .events import column_equals
from .results import poisson_rate_ci


def channel_table(names, status, sigma, line, events, rest_s, episode_rows) -> list[dict]:
    """Return one dict per analysed channel (the ``channels`` of a DetectionResult)."""
    # The two columns, not the rows: a copy of the fasciculation rows is most of the
    # event table (67 MB for a day, issue 14).
    is_fasc = column_equals(events, "trial_type", "fasciculation")  # codes, if coded
    channel, doublet = events["channel"][is_fasc], events["doublet"][is_fasc] == 1
    counts = np.array([(channel == n).sum() for n in names])
    doubled = np.array([((channel == n) & doublet).sum() for n in names])
    rest = np.where(status == "flat", 0.0, rest_s)
    low, high = poisson_rate_ci(counts, rest / 60.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rest > 0, counts / (rest / 60.0), np.nan)
    out = []
    for i, name in enumerate(names):  # loop over channels
        involved = np.array([name in c.split(",") for c in episode_rows["channels"]], dtype=bool)
        spasm = involved & (episode_rows["trial_type"] == "spasm")
        out.append({
            "name": name, "status": str(status[i]),
            "noise_sigma_uv": float(sigma[i] * 1e6),
            "line_freq_hz": line.per_channel_hz[i] if i < len(line.per_channel_hz) else None,
            "n_fasciculations": int(counts[i]), "rest_s": float(rest[i]),
            "rate_per_min": float(rate[i]), "rate_ci_low": float(low[i]),
            "rate_ci_high": float(high[i]),
            "n_spasms": int(spasm.sum()), "spasm_s": float(episode_rows["duration"][spasm].sum()),
            "n_doublets": int(doubled[i]),
            "doublet_share": float(doubled[i] / counts[i]) if counts[i] else float("nan"),
        })
    return out
