"""
Detect events in an OpenBCI recording
=====================================

Read the bundled OpenBCI GUI v6 file (a Cyton board, 8 channels at 250 Hz, an EEG
montage with a jaw clench), run the detector with its default parameters, print the
event table and plot the traces with the events marked.

At 250 Hz a surface potential spans only a few samples, so shape features are
unreliable (the result carries a warning saying so). Nobody annotated the blinks and the
jaw clench as tasks, so sustained bursts on several channels come out as ``spasm``
episodes, not as fasciculations: annotate task periods (``voluntary``, ``task``) to have
them called ``voluntary``.

The figure and the table go to the folder given as the first argument, else to
``$FASCIDETECT_EXAMPLES_OUT``, else to a new temporary folder.
"""

import os
import sys
import tempfile
from pathlib import Path

import fascidetect

out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else
               os.environ.get("FASCIDETECT_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="fascidetect-"))
out_dir.mkdir(parents=True, exist_ok=True)
signals = Path(__file__).resolve().parents[1] / "signals"

# %%
# Read and detect. ``read`` finds the format from the file's content; OpenBCI text
# files are in µV and come back in volts, like every other reader's output.
rec = fascidetect.read(signals / "openbci_gui_v6_cyton_10s.txt")
print(f"{rec.format}: {rec.n_channels} channels at {rec.sfreq:g} Hz, {rec.duration_s:.1f} s")
result = fascidetect.detect(rec)

# %%
# The event table: one row per fasciculation, artifact, spasm or voluntary episode.
table = result.to_dataframe()
print(table[["onset", "duration", "trial_type", "channels", "rms_uv"]].to_string())
print(result.summary()["counts"])
result.to_tsv(out_dir / "openbci_events.tsv")

# %%
# The band-passed traces of the whole 10 s with the episodes shaded.
fig = fascidetect.plot.plot_traces(rec, result, start=0.0, stop=rec.duration_s)
fig.savefig(out_dir / "openbci_traces.png", dpi=80)
print(f"wrote {out_dir / 'openbci_traces.png'}")
