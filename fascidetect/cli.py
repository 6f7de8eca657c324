"""The ``fascidetect`` command line: a click group with one function per command.

Machine output (JSON/TSV) goes to stdout, human messages to stderr. Exit codes:
0 success, 1 a file failed or a user error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from pathlib import Path

import click

from ._version import __version__


def _fail_cleanly(func):
    """Turn our exceptions into one clean line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .errors import FascidetectError

        try:
            return func(*args, **kwargs)
        except FascidetectError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fascidetect")
def cli():
    """Find fasciculations in surface EMG and tell them from spasms and artifacts.

    \b
    Example:
      fascidetect info recording.edf
      fascidetect detect recording.edf --out results/
    """


def out_option(help_text: str):
    """The ``--out`` folder option every writing command takes."""
    return click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                        help=help_text)


def read_options(func):
    """Options that say how to read input files (shared by every command that reads)."""
    options = [
        click.option("--sfreq", type=float, default=None,
                     help="Sampling rate in Hz (required for CSV/NumPy arrays)."),
        click.option("--emg-channels", default=None,
                     help="Comma-separated channel names to analyse (default: EMG-typed)."),
        click.option("--format", "file_format", default=None,
                     help="Force the input format (edf, bdf, openbci, brainflow, wfdb, otb-mat, csv, tsv, npy)."),
        click.option("--board", default=None,
                     help="BrainFlow board id or name for BrainFlow CSV files (default Cyton)."),
        click.option("--units", type=click.Choice(["V", "mV", "uV"], case_sensitive=False),
                     default=None, help="Unit of CSV/NumPy values (default: guessed, with a warning)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def detection_options(func):
    """Detection parameters (shared by ``detect``, ``report`` and ``batch``)."""
    options = [
        click.option("--threshold", "threshold_sigma", type=float, default=None,
                     help="Detection threshold in robust noise sigmas (default 5)."),
        click.option("--notch", type=click.Choice(["auto", "50", "60", "off"]), default=None,
                     help="Power-line notch (default auto: only where hum is present)."),
        click.option("--highpass-mode", type=click.Choice(["standard", "ecg"]), default=None,
                     help="'ecg' raises the high-pass to 30 Hz for ECG-prone trunk muscles."),
        click.option("--layout", default=None,
                     help="Electrode array ROWSxCOLS: 8x8 for an HD grid, 1x8 for a linear "
                          "array (channels merge only with neighbouring electrodes), or a grid "
                          "name: GR08MM1305, GR04MM1305 (OTB 13x5); electrodes without a channel: "
                          "--param layout_missing=12,40. Muscles: --param muscles=auto."),
        click.option("--param", "extra_params", multiple=True, metavar="NAME=VALUE",
                     help="Any DetectionParams field, e.g. --param dead_time_ms=12 (repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_params(threshold_sigma=None, notch=None, highpass_mode=None, layout=None,
                 extra_params=()):
    """Return DetectionParams from the shared CLI options."""
    from .errors import ParameterError
    from .params import DetectionParams, parse_param_overrides

    pairs = []
    for item in extra_params:
        if "=" not in item:
            raise ParameterError(f"--param expects NAME=VALUE, got {item!r}")
        pairs.append(tuple(item.split("=", 1)))
    if layout:
        pairs.append(("layout", layout))
    overrides = parse_param_overrides(pairs)
    for name, value in (("threshold_sigma", threshold_sigma), ("notch", notch),
                        ("highpass_mode", highpass_mode)):
        if value is not None:
            overrides[name] = value
    return DetectionParams.from_kwargs(None, **overrides)


def build_read_options(sfreq=None, emg_channels=None, file_format=None, board=None, units=None):
    """Return keyword arguments for :func:`fascidetect.read` from the shared CLI options."""
    opts = {"units": units} if units else {}
    if sfreq is not None:
        opts["sfreq"] = sfreq
    if emg_channels:
        opts["emg_channels"] = [c.strip() for c in emg_channels.split(",") if c.strip()]
    if file_format:
        opts["format"] = file_format
    if board is not None:
        opts["board"] = board
    return opts


def bids_options(func):
    """``--subject``/``--session`` filters for BIDS-root inputs (shared by detect and batch)."""
    options = [
        click.option("--subject", "subjects", multiple=True,
                     help="BIDS input: subject(s) to process (sub-XX or XX; repeatable)."),
        click.option("--session", "sessions", multiple=True,
                     help="BIDS input: session(s) to process (ses-YY or YY; repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _split_bids_roots(inputs):
    """Return (BIDS dataset roots, other inputs) of the command line inputs."""
    from .bids_input import is_bids_root

    roots = [p for p in inputs if os.path.isdir(p) and is_bids_root(p)]
    return roots, [p for p in inputs if p not in roots]


def _run_bids(roots, out_dir, subjects, sessions, params, jobs, quiet) -> int:
    """Detect in every EMG recording of the BIDS *roots*; write derivatives into OUT.

    Returns the number of recordings that failed. With several roots, each gets
    OUT/<root name>/.
    """
    from .bids_output import run as run_bids

    failed = 0
    for root in roots:
        deriv = Path(out_dir) if len(roots) == 1 else Path(out_dir) / Path(root).name
        rows = run_bids(root, deriv, subjects=list(subjects) or None,
                        sessions=list(sessions) or None, params=params, jobs=jobs or 1)
        for row in rows:
            if row["status"] != "ok":
                failed += 1
                click.echo(f"Error: {row['error']}", err=True)
            elif not quiet:
                rate = row["rate_per_min"]
                click.echo("\t".join([row["path"], "ok", f"{row['n_fasciculations']} fasciculations",
                                      f"{rate:.1f}/min" if rate is not None else "n/a/min",
                                      row["summary_json"]]))
    return failed


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@read_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@_fail_cleanly
def info(files, sfreq, emg_channels, file_format, board, units, as_json):
    """Describe recordings: format, rate, duration, channels and which are EMG.

    Reads headers only where the format allows (EDF/BDF stay on disk). Exit code 1 if
    any file cannot be read (the others are still described).

    \b
    Example:
      fascidetect info signals/sim_mixed_L5.edf
      fascidetect info data/*.edf --json
    """
    from .errors import FascidetectError
    from .io import describe_recording, read

    opts = build_read_options(sfreq, emg_channels, file_format, board, units)
    failed = 0
    for path in files:
        try:
            rec = read(path, preload=False, **opts)
        except FascidetectError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the rest
            failed += 1
            click.echo(f"Error: '{path}': cannot be read ({type(exc).__name__}: {exc})", err=True)
            continue
        desc = describe_recording(rec)
        if as_json:
            click.echo(json.dumps(desc))
            continue
        click.echo(f"{desc['source']}")
        click.echo(f"  format      {desc['format']}")
        click.echo(f"  rate        {desc['sfreq']:g} Hz")
        click.echo(f"  duration    {desc['duration_s']:.2f} s ({desc['n_samples']} samples)")
        click.echo(f"  start       {desc['meas_date'] or 'n/a'}")
        click.echo(f"  channels    {desc['n_channels']} ({len(desc['emg_channels'])} EMG: "
                   f"{', '.join(desc['emg_channels']) or 'none'})")
        kinds = {t: desc["ch_types"].count(t) for t in dict.fromkeys(desc["ch_types"])}
        click.echo("  types       " + ", ".join(f"{t} x{n}" for t, n in kinds.items()))
        click.echo(f"  annotations {desc['n_annotations']}")
        for key, value in desc["metadata"].items():
            click.echo(f"  {key:<11} {value}")
        for warning in desc["warnings"]:
            click.echo(f"  warning     {warning}")
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@out_option("Directory for <stem>_events.tsv and <stem>_summary.json.")
@read_options
@detection_options
@bids_options
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@_fail_cleanly
def detect(files, out_dir, sfreq, emg_channels, file_format, board, units, threshold_sigma, notch,
           highpass_mode, layout, extra_params, subjects, sessions, quiet):
    """Detect fasciculations, spasms and artifacts in EMG FILES.

    Writes OUT/<stem>_events.tsv (BIDS-style events) and OUT/<stem>_summary.json per file
    and prints one tab-separated line per file: path, status, fasciculations, rate per
    minute, spasm episodes, voluntary events, artifacts. Exit code 1 if any file failed
    (the others are still processed).

    A BIDS dataset root among FILES is searched for EMG recordings (filtered with
    --subject/--session) read with MNE-BIDS (channels.tsv types, bad channels skipped,
    target muscles, PowerLineFrequency); OUT then receives a BIDS derivatives dataset
    (sub-*/ses-*/emg/*_events.tsv, events.json and *_summary.json), e.g.
    --out ROOT/derivatives/fascidetect.

    \b
    Example:
      fascidetect detect signals/sim_mixed_L5.edf --out results/
      fascidetect detect bids/ --subject 01 --out bids/derivatives/fascidetect
    """
    from .jobs import assign_out_dirs, detect_file

    params = build_params(threshold_sigma, notch, highpass_mode, layout, extra_params)
    opts = build_read_options(sfreq, emg_channels, file_format, board, units)
    roots, files = _split_bids_roots(files)
    failed = _run_bids(roots, out_dir, subjects, sessions, params, 1, quiet) if roots else 0
    # Two inputs named alike (a/rec.edf, b/rec.edf) must not overwrite each other's results.
    folders = assign_out_dirs([os.path.abspath(p) for p in files], Path(out_dir))
    from .batch import clean_stale_temp_files

    clean_stale_temp_files(set(folders))  # temp files of an earlier run that was killed
    for path, folder in zip(files, folders):
        row = detect_file(path, folder, params, opts)
        if row["status"] != "ok":
            failed += 1
            click.echo(f"Error: {row['error']}", err=True)
            continue
        if not quiet:
            rate = row["rate_per_min"]
            click.echo("\t".join([row["path"], row["status"], f"{row['n_fasciculations']} fasciculations",
                                  f"{rate:.1f}/min" if rate is not None else "n/a/min",
                                  f"{row['n_spasms']} spasms", f"{row['n_voluntary']} voluntary",
                                  f"{row['n_artifacts']} artifacts"]))
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@out_option("Output folder: per-file outputs, batch_summary.tsv/.json, batch_report.png.")
@click.option("--pattern", default="*.edf", show_default=True,
              help="File-name pattern for folders (searched recursively, case-insensitive).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Process pool on this machine, or a Dask cluster.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: number of CPUs; 1 runs in this process).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster).")
@click.option("--resume", is_flag=True,
              help="Skip files whose outputs are complete and current (same params, unchanged input).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS",
              help="Give up on a file after this many seconds (it fails, the batch goes on).")
@read_options
@detection_options
@bids_options
@click.option("--quiet", is_flag=True, help="No progress bar and no tally; errors only.")
@_fail_cleanly
def batch(inputs, out_dir, pattern, engine, jobs, scheduler, resume, timeout_s, sfreq,
          emg_channels, file_format, board, units, threshold_sigma, notch, highpass_mode, layout,
          extra_params, subjects, sessions, quiet):
    """Detect events in many recordings: files, folders and manifests (INPUT...).

    A manifest is a CSV/TSV with a 'path' column and optional per-file columns
    (emg_channels, sfreq, format, board, muscles, anything else is copied to the table).
    Prints the path of OUT/batch_summary.tsv on stdout and a tally on stderr. Exit code
    1 if any file failed (the others are still processed), 130 on Ctrl-C (the summary of
    the finished files is written; rerun with --resume to finish).

    \b
    Example:
      fascidetect batch recordings/ --out results/ --jobs 4
      fascidetect batch cohort.csv --out results/ --resume
      fascidetect batch recordings/ --out results/ --engine dask --scheduler tcp://host:8786
      fascidetect batch bids/ --out bids/derivatives/fascidetect --jobs 2

    A BIDS dataset root among INPUTS is read with MNE-BIDS (EMG recordings, filtered with
    --subject/--session) and OUT receives a BIDS derivatives dataset, as with detect.
    """
    import time

    from . import batch as batch_module

    params = build_params(threshold_sigma, notch, highpass_mode, layout, extra_params)
    opts = build_read_options(sfreq, emg_channels, file_format, board, units)
    roots, inputs = _split_bids_roots(inputs)
    if roots:
        # BIDS roots go to a derivatives dataset in OUT (process pool; no --resume/dask).
        bids_failed = _run_bids(roots, out_dir, subjects, sessions, params, jobs or 1, quiet)
        if not inputs:
            sys.exit(1 if bids_failed else 0)
    else:
        bids_failed = 0
    started = time.perf_counter()
    try:
        rows = batch_module.run(list(inputs), out_dir, engine=engine, jobs=jobs,
                                scheduler=scheduler, pattern=pattern, params=params,
                                read_options=opts, resume=resume, progress=not quiet,
                                timeout_s=timeout_s)
    except KeyboardInterrupt:
        click.echo(f"Interrupted; finished files are in {out_dir}/batch_summary.tsv "
                   "(rerun with --resume to complete).", err=True)
        sys.exit(130)
    summary = f"{out_dir.rstrip('/')}/batch_summary.tsv"
    click.echo(summary)
    failed = [r for r in rows if r["status"] != "ok"]
    if not quiet:
        for row in failed:
            click.echo(f"failed: {row['error']}", err=True)
        resumed = sum(r["resumed"] for r in rows)
        click.echo(f"{len(rows)} files: {len(rows) - len(failed)} ok ({resumed} resumed), "
                   f"{len(failed)} failed in {time.perf_counter() - started:.1f} s", err=True)
    if failed or bids_failed:
        sys.exit(1)


@cli.command()
@out_option("Directory for <stem>.edf, <stem>_truth.tsv and <stem>_truth.json.")
@click.option("--scenario", default="rest", show_default=True,
              help="rest, low_snr, spasm, ecg, hum_motion, consumer_250hz, grid64, voluntary, "
                   "mixed or negative.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--duration", "duration_s", type=float, default=None,
              help="Length in s (default: the scenario's, 120 s).")
@click.option("--sfreq", type=float, default=None, help="Sampling rate in Hz (default: the scenario's).")
@click.option("--channels", "n_channels", type=int, default=None, help="Number of channels (linear montage).")
@click.option("--grid", default=None, metavar="RxC", help="HD grid layout, e.g. 8x8.")
@click.option("--stem", default=None, help="File stem (default sim_<scenario>_s<seed>).")
@click.option("--no-truth-annotations", is_flag=True,
              help="Do not copy the truth into the EDF annotations.")
@_fail_cleanly
def simulate(out_dir, scenario, seed, duration_s, sfreq, n_channels, grid, stem,
             no_truth_annotations):
    """Write a simulated EMG recording with known truth (EDF+ and truth TSV).

    Prints the paths written, one per line.

    \b
    Example:
      fascidetect simulate --out sims/ --scenario mixed --seed 1
      fascidetect simulate --out sims/ --scenario grid64 --grid 8x8 --duration 30
    """
    from .errors import ParameterError
    from .simulation import SCENARIOS, simulate as _simulate, write_simulation

    if scenario not in SCENARIOS:
        raise ParameterError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    layout = None
    if grid:
        try:
            layout = tuple(int(v) for v in grid.lower().split("x"))
        except ValueError:
            layout = ()
        if len(layout) != 2:
            raise ParameterError(f"--grid expects ROWSxCOLS such as 8x8, got {grid!r}")
    rec, truth = _simulate(duration_s=duration_s, sfreq=sfreq, n_channels=n_channels,
                           layout=layout, scenario=scenario, seed=seed)
    paths = write_simulation(rec, truth, out_dir, stem or f"sim_{scenario}_s{seed}",
                             include_truth_annotations=not no_truth_annotations)
    for path in paths.values():
        click.echo(str(path))


@cli.command()
@click.argument("detected", type=click.Path(exists=True))
@click.argument("truth", type=click.Path(exists=True))
@click.option("--tolerance-ms", type=float, default=10.0, show_default=True,
              help="Largest peak-time difference of a match.")
@click.option("--duration", "duration_s", type=float, default=None,
              help="Observation time in s for rates (default: truth sidecar or last event).")
@click.option("--min-truth-snr", type=float, default=None,
              help="Treat truth discharges with a lower snr as optional (no FN, no FP).")
@click.option("--count-during-activity", is_flag=True,
              help="Also count truth discharges on a channel while the truth holds it "
                   "active (spasm, voluntary episode, tonic unit); by default they are "
                   "optional, since only discharges at rest count.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_fail_cleanly
def evaluate(detected, truth, tolerance_ms, duration_s, min_truth_snr, count_during_activity,
             as_json):
    """Score DETECTED events against TRUTH: precision, recall, F1 and more.

    DETECTED and TRUTH are events TSV files, or two directories: then every
    <stem>_truth.tsv in TRUTH is paired with <stem>_events.tsv in DETECTED.

    \b
    Example:
      fascidetect evaluate results/sim_events.tsv sims/sim_truth.tsv
      fascidetect evaluate results/ sims/ --json
    """
    from pathlib import Path

    from .errors import InputError
    from .evaluation import evaluate as _evaluate, format_reports

    det_p, truth_p = Path(detected), Path(truth)
    if det_p.is_dir() != truth_p.is_dir():
        raise InputError("DETECTED and TRUTH must both be files or both be directories")
    if truth_p.is_dir():
        pairs = []
        for tpath in sorted(truth_p.glob("*_truth.tsv")):
            stem = tpath.name[:-len("_truth.tsv")]
            dpath = det_p / f"{stem}_events.tsv"
            if not dpath.exists():
                click.echo(f"Warning: no {dpath.name} in {det_p} for {tpath.name}; skipped", err=True)
                continue
            pairs.append((stem, dpath, tpath))
        if not pairs:
            raise InputError(f"no <stem>_truth.tsv in '{truth_p}' has a matching "
                             f"<stem>_events.tsv in '{det_p}'")
    else:
        pairs = [(det_p.name.replace("_events.tsv", ""), det_p, truth_p)]
    reports = [_evaluate(d, t, tolerance_ms=tolerance_ms, duration_s=duration_s, label=s,
                         min_truth_snr=min_truth_snr, rest_only=not count_during_activity)
               for s, d, t in pairs]
    if as_json:
        out = [r.as_dict() for r in reports]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2))
    else:
        click.echo(format_reports(reports))


def _input_format_renamed(func):
    """Apply :func:`read_options` with its ``--format`` renamed ``--input-format``.

    ``report`` needs ``--format`` for the output (pdf/png/html); the input-format option
    keeps its destination (``file_format``) and help under the new flag.
    """
    func = read_options(func)
    for param in getattr(func, "__click_params__", []):
        if "--format" in getattr(param, "opts", ()):
            param.opts = ["--input-format"]
    return func


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@out_option("Directory for <stem>_report.pdf (and PNG pages / HTML).")
@click.option("--format", "formats", type=click.Choice(["pdf", "png", "html"]), multiple=True,
              help="Report format (repeatable; default pdf).")
@click.option("--events", "events_path", type=click.Path(exists=True), default=None,
              help="Reuse an events.tsv (or a folder of <stem>_events.tsv) instead of detecting.")
@click.option("--muscles", default=None, metavar="MAP",
              help="Channel-to-muscle map: '1=TA_R,2=GAS_R' or a TSV with columns channel, muscle "
                   "(default: the muscles the file names, as BIDS target_muscle or an "
                   "OTBiolab+ export does, else muscles read from channel names).")
@_input_format_renamed
@detection_options
@click.option("--quiet", is_flag=True, help="No progress bar; print nothing but errors.")
@click.option("--verbose", is_flag=True, help="Also list every file written and the warnings.")
@_fail_cleanly
def report(files, out_dir, formats, events_path, muscles, sfreq, emg_channels, file_format,
           board, units, threshold_sigma, notch, highpass_mode, layout, extra_params, quiet, verbose):
    """Write a report per EMG file: summary page plus figures (PDF, PNG pages or HTML).

    Page 1 states the rest time analysed, fasciculations and rate per channel with 95 %
    CI, motor units, spasm episodes, artifacts rejected, warnings, the root pattern (only
    ever "consistent with") and what surface EMG cannot assess; then the overview, traces,
    raster and rate, waveforms and histograms. Prints the path of every file written
    (the PDF, each PNG page, the HTML), one per line.
    Exit code 1 if any file failed (the others are still processed). The input format
    is forced with --input-format (--format names the report format here).

    \b
    Example:
      fascidetect report signals/sim_mixed_L5.edf --out reports/
      fascidetect report rec.edf --out reports/ --format pdf --format html --muscles "1=TA_R,2=GAS_R"
      fascidetect report rec.edf --out reports/ --events results/rec_events.tsv
    """
    import warnings as _warnings
    from pathlib import Path

    from .errors import FascidetectError, FascidetectWarning, ParameterError
    from .report import write_report

    if events_path and len(files) > 1 and not Path(events_path).is_dir():
        raise ParameterError("--events names one events.tsv but several FILES were given; "
                             "pass a folder of <stem>_events.tsv instead")
    formats = formats or ("pdf",)
    if muscles:
        from .myotomes import parse_muscle_map

        muscles = parse_muscle_map(muscles)  # a bad map fails once, before any detection
    params = build_params(threshold_sigma, notch, highpass_mode, layout, extra_params)
    opts = build_read_options(sfreq, emg_channels, file_format, board, units)
    show_bar = not quiet and sys.stderr.isatty()
    failed = 0
    with _progress_bar(len(files), show_bar) as advance:
        for path in files:
            try:
                with _warnings.catch_warnings(record=True) as caught:
                    _warnings.simplefilter("always", FascidetectWarning)
                    written = write_report(path, out_dir, formats=formats, muscles=muscles,
                                           params=params, events=events_path, read_options=opts)
            except FascidetectError as exc:
                failed += 1
                click.echo(f"Error: {exc}", err=True)
                advance()
                continue
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
                failed += 1
                click.echo(f"Error: '{path}': report failed ({type(exc).__name__}: {exc})", err=True)
                advance()
                continue
            advance()
            for fmt in dict.fromkeys(formats):  # every file written, in --format order
                out = written.get(fmt) or []
                for item in (out if isinstance(out, list) else [out]):
                    click.echo(str(item))
            if verbose:
                for fmt, out in written.items():
                    for item in (out if isinstance(out, list) else [out]):
                        click.echo(f"  {fmt}: {item}", err=True)
                for w in caught:
                    click.echo(f"  warning: {w.message}", err=True)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@out_option("Directory for trend.tsv, trend_tests.tsv, trend.json and the trend report.")
@click.option("--dates", "dates_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TSV/CSV with 'date' and 'session' (or 'file') columns; overrides meas_date.")
@click.option("--subject", default=None, help="BIDS subject to follow (sub-XX or XX).")
@click.option("--session", "sessions", multiple=True,
              help="BIDS session(s) to include (repeatable; default all).")
@click.option("--muscles", default=None, metavar="MAP",
              help="Channel-to-muscle map for every session ('1=TA_R,2=GAS_R' or a TSV).")
@click.option("--min-rest-min", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Sessions with less rest on a muscle are listed but not tested.")
@click.option("--format", "formats", type=click.Choice(["pdf", "png", "html"]), multiple=True,
              help="Report format (repeatable; default pdf and html).")
@click.option("--quiet", is_flag=True, help="Print only the paths written.")
@_fail_cleanly
def trend(inputs, out_dir, dates_path, subject, sessions, muscles, min_rest_min, formats, quiet):
    """Follow one person over sessions: rate per muscle with 95 % CI against the date.

    INPUTS are <stem>_summary.json files, folders of detect/batch outputs, or a BIDS
    root with derivatives/fascidetect. Per muscle: first vs last session by the exact
    test of two Poisson rates, and a Poisson regression on time (log rest minutes as
    offset) over 3+ sessions; sessions with under --min-rest-min of rest are left out of
    the tests. Prints the paths written; the findings go to stderr (never a diagnosis).

    \b
    Example:
      fascidetect trend results/ --out trend/
      fascidetect trend bids_root/ --subject 01 --out trend/ --format html
    """
    from .trend import analyse, find_summaries, load_sessions, read_dates, write_outputs
    from .trend_report import write_trend_report

    paths = []
    for ses in sessions or (None,):
        paths += find_summaries(list(inputs), subject=subject, session=ses)
    dates = read_dates(dates_path) if dates_path else None
    found = load_sessions(list(dict.fromkeys(paths)), dates=dates, muscles=muscles)
    result = analyse(found, min_rest_min=min_rest_min)
    written = write_outputs(result, out_dir)
    title = f"sub-{found[0].subject}" if found and found[0].subject else Path(inputs[0]).name
    report = write_trend_report(result, out_dir, formats=formats or ("pdf", "html"), title=title)
    for item in list(written.values()) + list(report.values()):
        for path in (item if isinstance(item, list) else [item]):
            click.echo(str(path))
    if not quiet:
        for m in result.muscles:
            click.echo(m.statement, err=True)
        for line in result.presence:
            click.echo(line, err=True)
        for w in result.warnings:
            click.echo(f"Warning: {w}", err=True)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@out_option("BIDS dataset root to write into (created; other recordings are kept).")
@click.option("--subject", default="01", show_default=True, help="BIDS subject label.")
@click.option("--session", default=None, help="BIDS session label (e.g. 01 or a date 20260301).")
@click.option("--task", default="rest", show_default=True, help="BIDS task label.")
@click.option("--run", "run_label", default=None, help="BIDS run label.")
@click.option("--muscles", default=None, metavar="MAP",
              help="Channel-to-muscle map over the EMG channels ('1=TA_R,2=GAS_R' or a TSV), "
                   "written as target_muscle in channels.tsv.")
@click.option("--line-freq", type=click.Choice(["50", "60"]), default=None,
              help="Mains frequency for PowerLineFrequency (default n/a).")
@click.option("--bids-format", type=click.Choice(["bdf", "edf"]), default="bdf", show_default=True,
              help="Data format (BDF keeps 24 bits: consumer boards record large DC offsets).")
@click.option("--overwrite", is_flag=True, help="Replace a recording with the same entities.")
@_input_format_renamed
@_fail_cleanly
def convert(file, out_dir, subject, session, task, run_label, muscles, line_freq, bids_format,
            overwrite, sfreq, emg_channels, file_format, board, units):
    """Convert an OpenBCI/BrainFlow/CSV (any readable) recording into a BIDS EMG dataset.

    Written with MNE-BIDS (datatype emg): the data file, *_emg.json, *_channels.tsv with
    target_muscle, scans.tsv, participants.tsv and dataset_description.json. Prints
    the path of the data file written. The input format is forced with --input-format.

    \b
    Example:
      fascidetect convert session.txt --out bids/ --subject 01 --session 01 \\
          --muscles "1=TA_R,2=GAS_R" --line-freq 50
    """
    from .convert import convert_to_bids

    opts = build_read_options(sfreq, emg_channels, file_format, board, units)
    written = convert_to_bids(file, out_dir, subject=subject, session=session, task=task,
                              run=run_label, muscles=muscles,
                              line_freq=float(line_freq) if line_freq else None,
                              data_format=bids_format, read_options=opts, overwrite=overwrite)
    click.echo(str(written.fpath))


@cli.command()
@click.option("--board", default=None, metavar="NAME|ID",
              help="BrainFlow board: cyton, ganglion, cyton-daisy, synthetic, playback or an id.")
@click.option("--serial-port", default=None, help="Serial port of the board's dongle.")
@click.option("--file", "file_", default=None, type=click.Path(exists=True, dir_okay=False),
              help="With --board: a BrainFlow CSV for the playback board; alone: any "
                   "recording, played at real time.")
@click.option("--master-board", default="synthetic", show_default=True,
              help="Board that recorded the --file played by the playback board.")
@click.option("--lsl", default=None, metavar="NAME", help="Read the LSL stream NAME (mne-lsl).")
@click.option("--lsl-units", type=click.Choice(["auto", "V", "mV", "uV"]), default="auto",
              show_default=True, help="Unit of the LSL samples.")
@out_option("Folder for <stem>.bdf, <stem>_live_events.tsv, the summaries and the report.")
@click.option("--stem", default=None, help="File stem (default live_<UTC time>).")
@click.option("--duration", "duration_s", type=float, default=None,
              help="Stop after this many seconds (default: Ctrl+C).")
@click.option("--no-plot", is_flag=True, help="One status line in the terminal, no window.")
@click.option("--no-report", is_flag=True, help="Skip the offline analysis and report at the end.")
@click.option("--lookahead", type=float, default=0.35, show_default=True,
              help="Signal after a discharge before it is judged, s (the latency floor).")
@click.option("--window", "window_s", type=float, default=8.0, show_default=True,
              help="Analysis window, s (shorter: less CPU, coarser episode edges).")
@click.option("--hop", "hop_s", type=float, default=0.1, show_default=True,
              help="Time between analyses, s (CPU scales with 1/hop; adds up to one hop of latency).")
@click.option("--flush", "flush_s", type=float, default=2.0, show_default=True,
              help="Longest time between writes of the files to disk, s.")
@detection_options
@_fail_cleanly
def live(board, serial_port, file_, master_board, lsl, lsl_units, out_dir, stem, duration_s,
         no_plot, no_report, lookahead, window_s, hop_s, flush_s, threshold_sigma, notch,
         highpass_mode, layout, extra_params):
    """Count fasciculations live from a BrainFlow board or an LSL stream.

    Records the raw stream to OUT/<stem>.bdf and the discharges, episodes and board
    faults to OUT/<stem>_live_events.tsv (both flushed every few seconds); Ctrl+C stops
    and writes the summary, the offline analysis of the recording and its report.
    Needs the extra: pip install "fascidetect[live]".

    \b
    Examples:
      fascidetect live --board cyton --serial-port /dev/ttyUSB0 --out session/
      fascidetect live --lsl obci_eeg1 --lsl-units uV --no-plot --out session/
    """
    from .live.processor import LiveSettings
    from .live.session import Session
    from .live.sources import open_source

    params = build_params(threshold_sigma, notch, highpass_mode, layout, extra_params)
    source = open_source(board, serial_port, file_, master_board, lsl, lsl_units)
    click.echo(f"Recording {len(source.ch_names)} channels at {source.sfreq:g} Hz from "
               f"{getattr(source, 'name', 'source')} to {out_dir} (Ctrl+C stops)", err=True)
    session = Session(source, out_dir, stem, params,
                      LiveSettings(window_s=window_s, lookahead_s=lookahead, hop_s=hop_s,
                                   catch_up=False),
                      view="status" if no_plot else "plot",
                      flush_s=flush_s, end_after_stall_s=5.0 if file_ else None,
                      report=not no_report, duration_s=duration_s)
    summary = session.run()
    lat = summary["latency_ms"]
    click.echo(f"{summary['stem']}: {summary['duration_s']:.0f} s, rest {summary['rest_s'] / 60:.1f} "
               f"min, {summary['counts']['fasciculation']} fasciculations, "
               f"{summary['counts']['spasm']} spasms, latency p50 {lat.get('p50', 'n/a')} ms; "
               f"stopped: {summary['stopped_by']}", err=True)


def _progress_bar(total: int, enabled: bool):
    """Return a context manager yielding advance(): tqdm if installed, else click's bar."""
    import contextlib

    if not enabled:
        return contextlib.nullcontext(lambda: None)
    try:
        from tqdm import tqdm
    except ImportError:
        @contextlib.contextmanager
        def click_bar():
            with click.progressbar(length=total, label="reports", file=sys.stderr) as bar:
                yield lambda: bar.update(1)

        return click_bar()

    @contextlib.contextmanager
    def tqdm_bar():
        with tqdm(total=total, desc="reports", unit="file", file=sys.stderr) as bar:
            yield lambda: bar.update(1)

    return tqdm_bar()


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """Show warnings as one ``Warning: ...`` line on stderr, without source lines."""
    click.echo(f"Warning: {message}", err=True)


def main(argv=None):
    """Entry point of the ``fascidetect`` console script."""
    warnings.showwarning = _one_line_warning
    try:
        cli.main(args=argv, prog_name="fascidetect", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
