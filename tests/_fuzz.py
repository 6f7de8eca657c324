"""A seeded mutation fuzzer over every reader (EDF/BDF, OpenBCI, BrainFlow, CSV, NPY, WFDB,
OTBiolab+ MAT).

Each case takes a small valid seed file of one format, damages it (header fields set to
nonsense, bytes flipped, lines cut, doubled or dropped, cells replaced by nasty tokens,
the file truncated) and reads it with :func:`fascidetect.read`; a share of the files that
read is also run through :func:`fascidetect.detect`. A case passes when:

* it reads (or detects), or it fails with a :class:`FascidetectError` whose message is one
  line naming the file;
* no other exception escapes (no traceback, no internal error);
* it finishes within :data:`TIME_LIMIT_S`;
* the peak of memory traced while reading stays under :func:`allocation_bound`.

Used by ``tests/test_fuzz.py`` (a short run in CI) and ``scripts/fuzz_readers.py`` (long runs).
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

#: Seconds one case may take (read, and detect when it runs).
TIME_LIMIT_S = 20.0
#: Formats and the file suffix of their seed.
FORMATS = ("edf", "bdf", "openbci_v6", "openbci_legacy", "brainflow", "csv", "npy", "wfdb",
           "otbmat", "otbmat_z")

_NASTY = [b"", b"-1", b"0", b"nan", b"inf", b"-inf", b"1e308", b"-1e308", b"99999999",
          b"1e3", b".", b"-", b"abc", b"\x00", b"\xff\xfe", b"\t", b";", b",", b"\n",
          b"9" * 40, b"2147483648", b"-0", b"0x10", b"\xe9", b" "]


def allocation_bound(file_size: int) -> int:
    """Return the largest memory (bytes) reading a file of *file_size* bytes may trace:
    32 MB plus 400 bytes per byte of file (a 16-bit EDF sample becomes 8 bytes of float64,
    with a few copies while scaling and checking)."""
    return 32 * 2**20 + 400 * int(file_size)


@dataclasses.dataclass
class Outcome:
    """What one case did: ``ok``, ``refused`` (a clean error), or a failure kind."""

    fmt: str
    case: int
    kind: str  # ok | refused | internal | multiline | unnamed | hang | memory
    message: str = ""
    peak_bytes: int = 0
    detected: bool = False

    @property
    def failed(self) -> bool:
        return self.kind not in ("ok", "refused")


# ---------------------------------------------------------------------------- seeds
def make_seeds(folder: Path, repo: Path) -> dict[str, list[Path]]:
    """Write one small valid file per format into *folder*; return format -> files
    (WFDB: header and signal file, both mutated)."""
    import mne
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    fs = 1000.0
    data = rng.normal(0, 10e-6, (2, int(6 * fs)))
    data[:, 3000:3010] += 200e-6 * np.hanning(10)
    info = mne.create_info(["EMG TA_R", "EMG GAS_R"], fs, "emg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 2.5], [0.5, 0.0], ["BAD_move", "voluntary"]))
    seeds = {}
    for fmt in ("edf", "bdf"):
        path = folder / f"seed.{fmt}"
        mne.export.export_raw(str(path), raw, fmt=fmt, overwrite=True, verbose="error")
        seeds[fmt] = [path]
    v6 = (repo / "signals" / "openbci_gui_v6_cyton_10s.txt").read_text(encoding="latin-1")
    seeds["openbci_v6"] = [_write(folder / "seed_v6.txt", "\n".join(v6.splitlines()[:1500]))]
    legacy = (repo / "signals" / "openbci_ganglion_S05_rest.txt").read_text(encoding="latin-1")
    seeds["openbci_legacy"] = [_write(folder / "seed_legacy.txt",
                                      "\n".join(legacy.splitlines()[:2000]))]
    brainflow = (repo / "tests" / "data" / "brainflow_synthetic_board.csv").read_text()
    seeds["brainflow"] = [_write(folder / "seed_bf.csv", "\n".join(brainflow.splitlines()[:700]))]
    table = rng.normal(0, 10, (3000, 2))
    seeds["csv"] = [_write(folder / "seed.csv", "ta,gas\n" + "\n".join(
        f"{a:.3f},{b:.3f}" for a, b in table))]
    npy = folder / "seed.npy"
    np.save(npy, (rng.normal(0, 10e-6, (2, 3000))).astype(np.float32))
    seeds["npy"] = [npy]
    wfdb.wrsamp("seed_wfdb", fs=4000, units=["mV"], sig_name=["EMG"],
                p_signal=rng.normal(0, 0.05, (8000, 1)), fmt=["16"], write_dir=str(folder))
    seeds["wfdb"] = [folder / "seed_wfdb.hea", folder / "seed_wfdb.dat"]
    import scipy.io

    cell = np.empty((1, 1), dtype=object)  # OTBiolab+ keeps Data in a 1 x 1 cell
    force = np.where((np.arange(6000) > 2000) & (np.arange(6000) < 4000), 20.0, 1.0)
    cell[0, 0] = np.column_stack([rng.normal(0, 10, (6000, 2)), force]).astype(np.float32)
    names = [[f"TA - GR04MM1305 ({k})[uV]"] for k in (1, 2)] + [["acquired data[ %(MVC)]"]]
    scipy.io.savemat(folder / "seed_otb.mat", {"Data": cell, "SamplingFrequency": [[fs]],
                                               "Description": np.array(names, dtype=object)})
    seeds["otbmat"] = [folder / "seed_otb.mat"]
    # MATLAB compresses v7 files by default (the openhdemg sample is one): damage inside
    # a zlib stream fails differently.
    scipy.io.savemat(folder / "seed_otbz.mat", {"Data": cell, "SamplingFrequency": [[fs]],
                                                "Description": np.array(names, dtype=object)},
                     do_compression=True)
    seeds["otbmat_z"] = [folder / "seed_otbz.mat"]
    return seeds


def _write(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="latin-1")
    return path


# ---------------------------------------------------------------------------- mutations
def _edf_field_offsets(raw: bytes) -> list[tuple[int, int]]:
    """Return (offset, width) of every header field of an EDF/BDF header."""
    fields = [(0, 8), (8, 80), (88, 80), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8),
              (244, 8), (252, 4)]
    try:
        ns = int(raw[252:256].decode("latin-1").strip())
    except ValueError:
        return fields
    ns = max(0, min(ns, 64))
    start = 256
    for width in (16, 80, 8, 8, 8, 8, 8, 80, 8, 32):
        fields += [(start + i * width, width) for i in range(ns)]
        start += width * ns
    return fields


def mutate(raw: bytes, fmt: str, rng: np.random.Generator, part: int = 0) -> bytes:
    """Return a damaged copy of *raw* (one to three mutations)."""
    data = bytearray(raw)
    for _ in range(int(rng.integers(1, 4))):
        data = _one_mutation(data, fmt, rng, part)
    return bytes(data)


def _one_mutation(data: bytearray, fmt: str, rng, part: int) -> bytearray:
    if not data:
        return bytearray(rng.choice(_NASTY))
    binary = fmt in ("edf", "bdf", "npy", "otbmat", "otbmat_z") or (fmt == "wfdb" and part == 1)
    choice = rng.random()
    if fmt in ("edf", "bdf") and choice < 0.5:
        offset, width = _edf_field_offsets(bytes(data))[int(rng.integers(
            0, len(_edf_field_offsets(bytes(data)))))]
        value = rng.choice(_NASTY) if rng.random() < 0.8 else bytes(
            rng.integers(0, 256, width, dtype=np.uint8))
        data[offset:offset + width] = value[:width].ljust(width)
        return data
    if fmt == "npy" and choice < 0.4:
        end = data.find(b"\n") + 1 or 128
        header = data[:end].decode("latin-1")
        swaps = [("(2, 3000)", "(2, 300000000000)"), ("(2, 3000)", "(-1, 3000)"),
                 ("(2, 3000)", "(3000,)"), ("'<f4'", "'<U8'"), ("'<f4'", "'|O'"),
                 ("'<f4'", "'<f8'"), ("False", "True"), ("(2, 3000)", "(2, 3, 500)")]
        old, new = swaps[int(rng.integers(0, len(swaps)))]
        header = header.replace(old, new)
        return bytearray(header.encode("latin-1")) + data[end:]
    if not binary and choice < 0.75:
        return _text_mutation(data, rng)
    kind = rng.integers(0, 5)
    if kind == 0:  # truncate
        return data[: int(rng.integers(0, len(data)))]
    if kind == 1:  # flip bytes
        idx = rng.integers(0, len(data), int(rng.integers(1, 16)))
        for i in idx:
            data[i] = int(rng.integers(0, 256))
        return data
    if kind == 2:  # duplicate a chunk
        a = int(rng.integers(0, len(data)))
        b = min(len(data), a + int(rng.integers(1, 4096)))
        return data[:b] + data[a:b] + data[b:]
    if kind == 3:  # insert garbage
        a = int(rng.integers(0, len(data)))
        return data[:a] + bytearray(rng.integers(0, 256, int(rng.integers(1, 64)),
                                                 dtype=np.uint8)) + data[a:]
    a = int(rng.integers(0, len(data)))  # cut a chunk out
    return data[:a] + data[a + int(rng.integers(1, 2048)):]


def _text_mutation(data: bytearray, rng) -> bytearray:
    lines = bytes(data).split(b"\n")
    i = int(rng.integers(0, len(lines)))
    kind = rng.integers(0, 7)
    if kind == 0:  # a cell becomes a nasty token
        for sep in (b",", b"\t", b" ", b"="):
            if sep in lines[i]:
                cells = lines[i].split(sep)
                cells[int(rng.integers(0, len(cells)))] = bytes(rng.choice(_NASTY))
                lines[i] = sep.join(cells)
                break
        else:
            lines[i] = bytes(rng.choice(_NASTY))
    elif kind == 1:  # drop lines
        del lines[i:i + int(rng.integers(1, 50))]
    elif kind == 2:  # duplicate lines
        lines[i:i] = lines[i:i + int(rng.integers(1, 50))]
    elif kind == 3:  # a header line (first 10) gets a nasty value
        j = int(rng.integers(0, min(10, len(lines))))
        head, _, _ = lines[j].partition(b"=")
        lines[j] = head + b"= " + bytes(rng.choice(_NASTY)) if b"=" in lines[j] else \
            bytes(rng.choice(_NASTY)) + lines[j]
    elif kind == 4:  # change the separators of the rest of the file
        sep = bytes(rng.choice([b";", b"\t", b" ", b",,"]))
        lines[i:] = [ln.replace(b",", sep).replace(b"\t", sep) for ln in lines[i:]]
    elif kind == 5:  # a byte-order mark or NUL bytes at the start
        lines[0] = bytes(rng.choice([b"\xef\xbb\xbf", b"\x00\x00", b"\xff\xfe"])) + lines[0]
    else:  # a very long line
        lines[i] = lines[i] * int(rng.integers(2, 200))
    return bytearray(b"\n".join(lines))


# ---------------------------------------------------------------------------- running
class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_case(fmt: str, case: int, seeds: dict, folder: Path, detect_every: int = 8) -> Outcome:
    """Mutate the seed of *fmt* with seed *case*, read it (and maybe detect); judge it."""
    import fascidetect
    from fascidetect.errors import FascidetectError

    rng = np.random.default_rng([FORMATS.index(fmt), case])
    files = seeds[fmt]
    part = int(rng.integers(0, len(files)))
    where = folder / f"{fmt}_{case}"
    where.mkdir(parents=True, exist_ok=True)
    target = where / files[0].name
    for k, seed in enumerate(files):
        raw = seed.read_bytes()
        (where / seed.name).write_bytes(mutate(raw, fmt, rng, k) if k == part else raw)
    options = {"sfreq": 1000.0, "units": "uV"} if fmt in ("csv", "npy") else {}
    if fmt == "brainflow":
        options = {"board": -1, "format": "brainflow"}
    size = sum((where / seed.name).stat().st_size for seed in files)
    outcome = Outcome(fmt, case, "ok")
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    tracemalloc.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rec = fascidetect.read(target, **options)
            outcome.peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            if case % detect_every == 0 and rec.duration_s <= 60:
                outcome.detected = True
                fascidetect.detect(rec)
        for w in caught:
            if issubclass(w.category, fascidetect.FascidetectWarning) and "\n" in str(w.message):
                outcome.kind, outcome.message = "multiline", f"warning: {w.message}"
    except _Hang:
        outcome.kind, outcome.message = "hang", f"more than {TIME_LIMIT_S:g} s"
    except FascidetectError as exc:
        message = str(exc)
        outcome.kind, outcome.message = "refused", message
        if "\n" in message.strip():
            outcome.kind = "multiline"
        elif target.name not in message and target.stem not in message:
            outcome.kind = "unnamed"
    except MemoryError:
        outcome.kind, outcome.message = "memory", "MemoryError"
    except Exception as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
        import traceback

        last = traceback.extract_tb(exc.__traceback__)[-1]
        outcome.kind = "internal"
        outcome.message = (f"{type(exc).__name__}: {str(exc)[:200]} "
                           f"(at {Path(last.filename).name}:{last.lineno})")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if tracemalloc.is_tracing():
            outcome.peak_bytes = max(outcome.peak_bytes, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        shutil.rmtree(where, ignore_errors=True)
    if not outcome.failed and outcome.peak_bytes > allocation_bound(size):
        outcome.kind = "memory"
        outcome.message = (f"read traced {outcome.peak_bytes / 2**20:.0f} MB for a "
                           f"{size / 1024:.0f}-KB file")
    return outcome


def run(n_cases: int, folder: Path, repo: Path, formats=FORMATS, first_case: int = 0,
        detect_every: int = 8) -> list[Outcome]:
    """Run *n_cases* cases per format; return every outcome."""
    seeds = make_seeds(folder / "seeds", repo)
    work = folder / "cases"
    work.mkdir(parents=True, exist_ok=True)
    return [run_case(fmt, case, seeds, work, detect_every)
            for fmt in formats for case in range(first_case, first_case + n_cases)]
