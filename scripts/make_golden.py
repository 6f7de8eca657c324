"""Write the golden event tables that guard refactors of the detection pipeline.

Usage: ``python scripts/make_golden.py`` (from the repository root). The tables in
``tests/golden/`` are what the pipeline gave when they were written; ``tests/
test_golden.py`` checks that the current code reproduces them column by column. Rerun
this script only when a change to detection is intended, and say so in the commit.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
SHARED = Path(os.environ.get("FASCIDETECT_SHARED_DATA", REPO.parent / "shared" / "data"))

#: Simulated cases: (name, scenario, seed, duration_s). Short, so the test stays quick.
SIMULATED = (
    ("sim_rest", "rest", 101, 40.0),
    ("sim_spasm", "spasm", 102, 60.0),
    ("sim_ecg", "ecg", 103, 40.0),
    ("sim_hum_motion", "hum_motion", 104, 60.0),
    ("sim_consumer_250hz", "consumer_250hz", 105, 40.0),
    ("sim_mixed", "mixed", 106, 60.0),
    ("sim_voluntary", "voluntary", 107, 60.0),
)

#: Cases whose table the template-matching pass changes: their table with the pass
#: switched off (``template_matching=False``) is kept in ``tests/golden/off/`` and must
#: stay what the detector gave before the pass existed.
SWITCH_OFF = ("sim_ecg", "sim_hum_motion")

#: Real recordings in ../shared/data: (name, relative path).
REAL = (
    ("real_S02_R0", "openbci-mi-emg-ganglion/OpenBCI-RAW-S02_S1R0.txt"),
    ("real_S05_R0", "openbci-mi-emg-ganglion/OpenBCI-RAW-S05_S1R0.txt"),
    ("real_jaw_v6", "openbci-gui-sample/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"),
    ("real_emg_healthy", "physionet-emgdb/emg_healthy.hea"),
    ("real_bdf_sleep", "mne-testing-data-edf/multiple_annotation_chans.bdf"),
)


def golden_cases(shared: Path = SHARED):
    """Yield ``(name, recording)`` for every golden case that can be built here."""
    from fascidetect import read
    from fascidetect.simulation import simulate

    for name, scenario, seed, duration in SIMULATED:
        rec, _ = simulate(scenario=scenario, seed=seed, duration_s=duration)
        yield name, rec
    for name, rel in REAL:
        path = shared / rel
        if path.exists():
            yield name, read(path)


def main() -> int:
    import fascidetect

    warnings.simplefilter("ignore")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, rec in golden_cases():
        res = fascidetect.detect(rec)
        res.to_tsv(GOLDEN / f"{name}_events.tsv")
        if name in SWITCH_OFF:
            (GOLDEN / "off").mkdir(exist_ok=True)
            fascidetect.detect(rec, template_matching=False).to_tsv(
                GOLDEN / "off" / f"{name}_events.tsv")
        kinds = dict(zip(*np.unique(res.events["trial_type"], return_counts=True)))
        print(name, {k: int(v) for k, v in kinds.items()}, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
