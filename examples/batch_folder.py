"""
Run a folder of recordings as a batch
=====================================

Write three short simulated EDF+ recordings (two "sessions" at rest and one with a
spasm) into a folder, then run :func:`fascidetect.batch.run` on the folder: every file
gets its ``<stem>_events.tsv`` and ``<stem>_summary.json``, and the cohort gets
``batch_summary.tsv`` (one row per file), ``batch_summary.json`` and a one-page
``batch_report.png``. A file that fails is reported in its row and never stops the
others; ``resume=True`` skips files already done with the same parameters.

``jobs=1`` runs in this process; leave it out to use every core, or pass
``engine="dask"`` to send the files to a Dask cluster. The outputs go to the folder
given as the first argument, else to ``$FASCIDETECT_EXAMPLES_OUT``, else to a new
temporary folder.
"""

import os
import sys
import tempfile
from pathlib import Path

import fascidetect
from fascidetect import batch
from fascidetect.simulation import write_simulation

out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else
               os.environ.get("FASCIDETECT_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="fascidetect-"))
out_dir.mkdir(parents=True, exist_ok=True)

# %%
# A folder of recordings (here simulated, 20 s each, 4 channels).
recordings = out_dir / "recordings"
for stem, scenario, seed in [("s01_rest", "rest", 1), ("s02_rest", "rest", 2),
                             ("s03_spasm", "spasm", 3)]:
    rec, truth = fascidetect.simulate(duration_s=20.0, n_channels=4, scenario=scenario,
                                      seed=seed)
    write_simulation(rec, truth, recordings, stem, include_truth_annotations=False)
print(sorted(p.name for p in recordings.glob("*.edf")))

# %%
# The batch: every *.edf under the folder (recursively), same parameters for all.
rows = batch.run(recordings, out_dir / "results", jobs=1, progress=False)
for row in rows:
    print(f"{Path(row['path']).name:16s} {row['status']:6s} "
          f"{row['n_fasciculations']:3d} fasciculations  {row['n_spasms']} spasms")

# %%
# The cohort table as a DataFrame (needs pandas).
table = batch.to_dataframe(out_dir / "results" / "batch_summary.tsv")
print(table[["path", "n_fasciculations", "rate_per_min", "n_spasms"]].to_string())
print(f"wrote {out_dir / 'results' / 'batch_summary.tsv'} and batch_report.png")
