"""OT Bioelettronica OTBiolab+ MAT exports (HD-sEMG grids, with their force channel).

OTBiolab+ exports a recording as a MATLAB file holding ``Data`` (samples x signals),
``Description`` (one name per signal, its unit in brackets: ``... GR08MM1305 (12)[uV]``,
``acquired data[ %(MVC)]``) and ``SamplingFrequency``; openhdemg's ``emg_from_otb``
reads the same variables. Signals in a voltage unit are EMG; decomposition outputs
(``[a.u]``) and the force or torque channel are ``misc``. The grid the description names
is kept in ``metadata["electrode_grid"]`` (declare it with ``layout=`` to use it), the
muscle its first part names in ``metadata["muscles"]`` (channel -> label, as BIDS
``target_muscle``; reports name it). A
force recorded in % MVC also marks its contractions as ``voluntary`` annotations: what a
force channel is for is telling a voluntary ramp from a spasm.
"""

from __future__ import annotations

import os
import re
import zlib

import numpy as np

from ..errors import CorruptFileError, EmptyRecordingError
from ..recording import Annotation, Recording

#: Volts per unit of the bracketed unit of a description.
_UNIT_SCALE = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6}
#: A force this far above its resting level (% MVC) is a voluntary contraction: rest
#: sits within about 1 % MVC of its offset, HD-sEMG tasks start at 5 % MVC or more.
CONTRACTION_MVC = 2.0
#: Contractions closer than this (s) are one; shorter ones are dropped.
_JOIN_S, _MIN_S = 0.5, 0.2
_UNIT = re.compile(r"\[\s*([^\]]*)\]\s*$")
_GRID = re.compile(r"\b(GR\d{2}MM\d{4})\b", re.IGNORECASE)

MAT_MAGIC = b"MATLAB 5.0 MAT-file"
#: What scipy raises on a damaged file; zlib.error: a damaged compressed variable (MATLAB
#: compresses v7 files).
_READ_ERRORS = (ValueError, TypeError, OSError, NotImplementedError, IndexError, zlib.error)


def read_otb_mat(path) -> Recording:
    """Read an OTBiolab+ MAT export; EMG in volts, other signals ``misc``.

    Raises
    ------
    CorruptFileError
        If the file is not a readable MATLAB file or lacks OTBiolab+'s variables.
    EmptyRecordingError
        If it holds no samples.
    """
    import scipy.io

    _check_announced_sizes(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    missing = [k for k in ("Data", "Description", "SamplingFrequency") if k not in mat]
    if missing:
        raise CorruptFileError(f"'{path}': a MATLAB file, but not an OTBiolab+ export: no "
                               f"{', '.join(missing)} variable(s) (found "
                               f"{sorted(k for k in mat if not k.startswith('__'))})")
    data = _unwrap(mat["Data"])
    names = [str(_unwrap(d)).strip() for d in np.asarray(mat["Description"], dtype=object).ravel()]
    try:
        rates = np.unique(np.asarray(_unwrap(mat["SamplingFrequency"]), dtype=float).ravel())
    except (TypeError, ValueError):
        rates = np.array([np.nan])
    if rates.size > 1:  # one Data matrix has one rate
        raise CorruptFileError(f"'{path}': SamplingFrequency holds several rates "
                               f"({', '.join(f'{r:g}' for r in rates[:4])} Hz)")
    sfreq = float(rates[0]) if rates.size else float("nan")
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise CorruptFileError(f"'{path}': SamplingFrequency is not a positive rate")
    data = np.asarray(data)
    if data.size and (data.ndim != 2 or data.dtype.kind not in "biuf"):
        raise CorruptFileError(f"'{path}': Data is not a samples x signals matrix of real "
                               f"numbers (shape {data.shape}, {data.dtype})")
    if data.ndim != 2 or data.size == 0:
        raise EmptyRecordingError(f"'{path}': Data holds no samples")
    if data.shape[1] != len(names) and data.shape[0] == len(names):
        data = data.T
    if data.shape[1] != len(names):
        raise CorruptFileError(f"'{path}': Data has {data.shape[1]} signals but Description "
                               f"names {len(names)}")
    units = [(m.group(1).strip() if (m := _UNIT.search(n)) else "") for n in names]
    scale = np.array([_UNIT_SCALE.get(u.lower(), np.nan) for u in units])
    is_emg = np.isfinite(scale) & ~np.array(["decomposition" in n.lower() for n in names])
    out = np.asarray(data, dtype=np.float64).T.copy()
    out[is_emg] *= scale[is_emg, None]
    labels = _short_names(names, is_emg)
    warnings = []
    unitless = [labels[k] for k, u in enumerate(units) if not u]
    if unitless:
        warnings.append(f"signal(s) {', '.join(unitless[:6])}{' ...' if len(unitless) > 6 else ''} "
                        "state no unit in brackets ([uV], [mV], [V]): not analysed as EMG; "
                        "values picked with emg_channels are taken as volts")
    grids = {g.group(1).upper() for n in names if (g := _GRID.search(n))}
    muscles = {labels[k]: m for k, n in enumerate(names) if is_emg[k] and (m := _muscle(n))}
    force = [k for k, u in enumerate(units) if "mvc" in u.lower().replace(" ", "")]
    annotations = _contractions(out[force[0]], sfreq) if force else []
    return Recording(
        data=out, sfreq=sfreq, ch_names=labels,
        ch_types=["emg" if e else "misc" for e in is_emg], source=str(path), format="otb-mat",
        annotations=annotations, warnings=warnings,
        metadata={"electrode_grid": grids.pop() if len(grids) == 1 else None,
                  "force_channel": labels[force[0]] if force else None,
                  "muscles": muscles},
    )


def _muscle(description: str) -> str | None:
    """Return the muscle label of a description's first part (``Vastus Lateralis - AUX 3
    ...`` -> ``VL``; a muscle the myotome table lacks as written), or None."""
    from ..bids_input import muscle_label

    first = description.split(" - ")[0].strip() if " - " in description else ""
    return muscle_label(first, "") if first and not _GRID.search(first) else None


def _check_announced_sizes(path) -> None:
    """Refuse a file whose headers announce a cell or struct larger than the file could
    hold: scipy allocates the announced object array before reading its elements (a
    damaged size took 100 MB for a 70-kB file)."""
    import scipy.io

    try:
        listing = scipy.io.whosmat(str(path))
    except _READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    size = os.path.getsize(path)
    for name, shape, kind in listing:
        count = int(np.prod(np.asarray(shape, dtype=float)))
        if kind in ("cell", "struct", "object") and count > size:
            raise CorruptFileError(f"'{path}': damaged: variable {name!r} announces a "
                                   f"{'x'.join(map(str, shape))} {kind}, more elements than "
                                   f"the file's {size} bytes hold")


def _unreadable(path, exc) -> CorruptFileError:
    if isinstance(exc, NotImplementedError):  # scipy's word for MATLAB v7.3 (HDF5)
        return CorruptFileError(f"'{path}': a MATLAB v7.3 (HDF5) file, which scipy cannot "
                                "read: save or export it as MATLAB v7 or older")
    return CorruptFileError(f"'{path}': scipy cannot read this MATLAB file: damaged or "
                            f"truncated ({exc})")


def _unwrap(value):
    """Return the array inside MATLAB's 1 x 1 cell and char wrappers."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.ravel()[0]
    if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size == 1:
        value = str(value.ravel()[0])
    return value


def _short_names(names, is_emg) -> list[str]:
    """EMG k of a grid -> ``EMG<k>`` (its number in the grid), others their description
    without the unit; unique."""
    out = []
    for n, emg in zip(names, is_emg):
        number = re.search(r"\((\d+)\)\s*\[[^\]]*\]\s*$", n)
        out.append(f"EMG{number.group(1)}" if emg and number else _UNIT.sub("", n).strip())
    seen: dict[str, int] = {}
    for k, n in enumerate(out):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            out[k] = f"{n} #{seen[n]}"
    return out


def _contractions(force: np.ndarray, sfreq: float) -> list[Annotation]:
    """Return ``voluntary`` annotations where a % MVC force is :data:`CONTRACTION_MVC`
    above its resting level (its 1st percentile)."""
    finite = np.isfinite(force)
    if not finite.any():
        return []
    rest = np.percentile(force[finite], 1)
    on = np.r_[False, np.where(finite, force, rest) > rest + CONTRACTION_MVC, False]
    edges = np.flatnonzero(np.diff(on.astype(np.int8)))
    starts, stops = edges[::2] / sfreq, edges[1::2] / sfreq
    if starts.size == 0:
        return []
    # Join contractions with short gaps, drop brief ones.
    keep = np.r_[True, starts[1:] - stops[:-1] > _JOIN_S]
    starts, stops = starts[keep], np.r_[stops[np.flatnonzero(keep)[1:] - 1], stops[-1]]
    long = stops - starts >= _MIN_S
    label = f"voluntary contraction (force > {rest + CONTRACTION_MVC:.1f} % MVC)"
    return [Annotation(float(a), float(b - a), label) for a, b in zip(starts[long], stops[long])]
