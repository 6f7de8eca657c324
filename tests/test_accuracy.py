"""Detection accuracy against the simulator's ground truth, scenario by scenario.

Thresholds sit a little under the figures in benchmarks/README.md so that a change that
degrades accuracy fails here; the benchmark itself reports the exact numbers.
"""

from __future__ import annotations

import pytest

import fascidetect
from fascidetect import detect
from fascidetect.evaluation import evaluate
from fascidetect.simulation import simulate

CASES = [
    # scenario, kwargs, minimum F1, min_truth_snr (None: every truth discharge counts)
    ("rest", {}, 0.95, None),
    ("spasm", {}, 0.95, None),
    ("ecg", {}, 0.93, None),
    ("hum_motion", {}, 0.93, None),
    ("voluntary", {}, 0.93, None),
    ("mixed", {}, 0.95, None),
    ("consumer_250hz", {}, 0.93, 5.0),
    ("grid64", {"duration_s": 60}, 0.90, None),
]


@pytest.mark.parametrize("scenario,kwargs,min_f1,min_snr", CASES, ids=[c[0] for c in CASES])
def test_fasciculation_f1_and_every_spasm(scenario, kwargs, min_f1, min_snr):
    rec, truth = simulate(scenario=scenario, seed=11, **kwargs)
    result = detect(rec)
    report = evaluate(result.events, truth, min_truth_snr=min_snr)
    assert report.f1 >= min_f1, report
    assert report.spasm_recall == 1.0, report
    assert report.spasm_precision == 1.0, report


def test_negative_scenario_stays_nearly_empty():
    rec, truth = simulate(scenario="negative", seed=11)
    result = detect(rec)
    assert len(result.fasciculations) <= 2


# Real recordings with no fasciculations in them (../shared/data): rest must stay empty,
# and contraction or bursts must not turn into floods of "fasciculations".
REAL_NEGATIVES = [
    ("physionet-emgdb/emg_healthy.hea", 0),           # needle EMG, gentle contraction
    ("physionet-emgdb/emg_myopathy.hea", 0),
    ("openbci-mi-emg-ganglion/OpenBCI-RAW-S02_S1REST.txt", 0),
    ("openbci-mi-emg-ganglion/OpenBCI-RAW-S05_S1REST.txt", 0),
    ("openbci-mi-emg-ganglion/OpenBCI-RAW-S02_S1R0.txt", 40),  # voluntary bursts, 131 s
    ("openbci-mi-emg-ganglion/OpenBCI-RAW-S05_S1R0.txt", 20),
    ("openbci-gui-sample/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt", 25),  # EEG, jaw clench
]


@pytest.mark.parametrize("relpath,most", REAL_NEGATIVES, ids=[r[0].split("/")[-1] for r in REAL_NEGATIVES])
def test_real_recordings_do_not_flood(shared_data, relpath, most):
    res = fascidetect.detect(fascidetect.read(shared_data / relpath))
    assert len(res.fasciculations) <= most
