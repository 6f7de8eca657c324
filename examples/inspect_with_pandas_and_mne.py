"""
Inspect a result with pandas and MNE
====================================

Detect events in the bundled simulated L5 recording, then look at them the way most
analyses continue: as a :class:`pandas.DataFrame` (counts per ``trial_type``, rates and
amplitudes per channel) and as :class:`mne.Annotations` on an :class:`mne.io.Raw`, turned
into epochs and drawn by MNE's own browser.

Annotation descriptions are ``fascidetect/fasciculation``, ``fascidetect/spasm``,
``fascidetect/voluntary`` and ``BAD_fascidetect/artifact/<kind>``: the ``BAD_`` prefix
makes ``mne.Epochs(..., reject_by_annotation=True)`` drop artifact epochs, and
fascidetect leaves its own annotations out when it reads such a Raw again.

The figure and the tables go to the folder given as the first argument, else to
``$FASCIDETECT_EXAMPLES_OUT``, else to a new temporary folder.
"""

import os
import sys
import tempfile
from pathlib import Path

import mne

import fascidetect

out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else
               os.environ.get("FASCIDETECT_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="fascidetect-"))
out_dir.mkdir(parents=True, exist_ok=True)
signals = Path(__file__).resolve().parents[1] / "signals"

rec = fascidetect.read(signals / "sim_mixed_L5.edf")
result = fascidetect.detect(rec)

# %%
# The events as a DataFrame: one row per event, the columns of ``events.tsv``.
df = result.to_dataframe()
print(df["trial_type"].value_counts().to_string())

fasc = df[df["trial_type"] == "fasciculation"]
per_channel = fasc.groupby("channel").agg(
    n=("onset", "size"), p2p_uv=("peak_amplitude_uv", "median"),
    duration_ms=("duration_ms", "median"), units=("unit", "nunique"))
rates = {ch["name"]: ch["rate_per_min"] for ch in result.channels}
per_channel["rate_per_min"] = per_channel.index.map(rates)
print(per_channel.round(1).to_string())
per_channel.to_csv(out_dir / "fasciculations_per_channel.tsv", sep="\t")

# %%
# Onto an MNE Raw. ``to_annotations(raw)`` puts the onsets on the Raw's time axis, so
# they add to the annotations it already has (here the experimenter's ``voluntary``
# mark and the simulation's ``truth:`` labels, which we drop for a clearer plot).
raw = rec.to_raw()
own = raw.annotations[[d == "voluntary" for d in raw.annotations.description]]
raw.set_annotations(own + result.to_annotations(raw))
print(raw.annotations)

# %%
# Epochs locked to the fasciculations, straight from the annotations. With
# ``reject_by_annotation`` MNE drops any that touch a ``BAD_`` span (an artifact found by
# fascidetect, or a gap of an EDF+D file).
events, event_id = mne.events_from_annotations(
    raw, event_id={"fascidetect/fasciculation": 1}, verbose="error")
epochs = mne.Epochs(raw, events, event_id, tmin=-0.02, tmax=0.03, baseline=None,
                    reject_by_annotation=True, preload=True, verbose="error")
print(f"{len(epochs)} fasciculation-locked epochs")

# %%
# MNE's browser (its matplotlib backend renders headless) on the 10 s with the most
# fasciculations, high-passed for display.
busiest = int((fasc["onset"] // 10).value_counts().idxmax()) * 10
mne.viz.set_browser_backend("matplotlib", verbose="error")
fig = raw.copy().filter(20.0, None, picks="emg", verbose="error").plot(
    start=busiest, duration=10.0, scalings={"emg": 200e-6}, show=False,
    show_scrollbars=False)
fig.savefig(out_dir / "raw_with_annotations.png", dpi=80)
print(f"wrote {out_dir / 'raw_with_annotations.png'}")
