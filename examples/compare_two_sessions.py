"""
Compare two sessions of one person
==================================

A person records the same muscles twice, three months apart, and wants to know whether
the twitching got worse. Simulate the two sessions (in the second, the fasciculating
units of ``TA_R`` fire twice as often; ``GAS_R`` stays the same), run
:func:`fascidetect.detect` on each and save its summary, then let
:func:`fascidetect.trend.analyse` compare them: the exact test of two Poisson rates on
each muscle's count over its own rest minutes, stated as a change with its ratio,
95 % confidence interval and p-value, never as a diagnosis.

``fascidetect trend <folder>`` does the same from the command line, with a plotted page.
The summaries and ``trend_tests.tsv`` go to the folder given as the first argument, else
to ``$FASCIDETECT_EXAMPLES_OUT``, else to a new temporary folder.
"""

import dataclasses
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

import fascidetect
from fascidetect import trend
from fascidetect.simulation import inject, simulate

out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else
               os.environ.get("FASCIDETECT_EXAMPLES_OUT") or tempfile.mkdtemp(prefix="fascidetect-"))
out_dir.mkdir(parents=True, exist_ok=True)

first_day = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
for session, (days_later, ta_rate) in enumerate([(0, 15.0), (91, 30.0)], start=1):
    # Three minutes of rest on two leg muscles, then fasciculating units injected per
    # muscle at the session's rate (discharges per minute).
    rec, _ = simulate(duration_s=180.0, sfreq=1000, scenario="rest", seed=session,
                      ch_names=["EMG TA_R", "EMG GAS_R"], n_fasc_units=0)
    for k, (muscle, rate) in enumerate([("EMG TA_R", ta_rate), ("EMG GAS_R", 15.0)]):
        rec, _ = inject(rec, "rest", seed=10 * session + k, picks=[muscle], n_fasc_units=2,
                        fasc_rate_per_min=(rate / 2, rate / 2), fasc_amplitude_uv=(100.0, 250.0))
    rec = dataclasses.replace(rec, meas_date=first_day + dt.timedelta(days=days_later),
                              source=f"session{session}.edf")
    fascidetect.detect(rec).to_json(out_dir / f"session{session}_summary.json")

result = trend.analyse(trend.load_sessions(trend.find_summaries(out_dir)))
for muscle in result.muscles:
    print(muscle.statement)
for warning in result.warnings:
    print("warning:", warning)
paths = trend.write_outputs(result, out_dir)
print("numbers:", paths["tests"])
