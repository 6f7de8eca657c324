"""BrainFlow CSV files: what ``DataFilter.write_file`` writes (tab separated, no header,
one row per sample, one column per row of the board's data array, EXG in µV).

Which columns are EXG, the timestamp and the sampling rate depend on the board: taken from
BrainFlow itself (``BoardShim.get_board_descr``) when it is installed, otherwise from the
table below (copied from BrainFlow 5.x board descriptions).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ..errors import EmptyRecordingError, ParameterError
from ..recording import Recording
from ._timestamps import backward_steps_warning, forward_span_s, reread_without_cut_row

#: board id: (name, sampling rate, number of rows, EXG rows, timestamp row)
BOARDS = {
    -1: ("synthetic", 250.0, 32, list(range(1, 17)), 30),
    0: ("cyton", 250.0, 24, list(range(1, 9)), 22),
    1: ("ganglion", 200.0, 15, list(range(1, 5)), 13),
    2: ("cyton_daisy", 125.0, 32, list(range(1, 17)), 30),
    4: ("ganglion_wifi", 1600.0, 25, list(range(1, 5)), 23),
    5: ("cyton_wifi", 1000.0, 24, list(range(1, 9)), 22),
    6: ("cyton_daisy_wifi", 1000.0, 32, list(range(1, 17)), 30),
    46: ("ganglion_native", 200.0, 15, list(range(1, 5)), 13),
}


def board_description(board) -> tuple[int, str, float, int, list[int], int | None]:
    """Return (id, name, rate, rows, EXG rows, timestamp row) of a BrainFlow board.

    ``board`` is an id (``0``, ``"0"``) or a name (``"cyton"``, ``"CYTON_BOARD"``).
    """
    board_id = _board_id(board)
    try:
        from brainflow.board_shim import BoardShim

        descr = BoardShim.get_board_descr(board_id)
        exg = sorted(set(descr.get("eeg_channels", [])) | set(descr.get("emg_channels", []))
                     | set(descr.get("exg_channels", [])))
        return (board_id, descr.get("name", str(board_id)).lower(), float(descr["sampling_rate"]),
                int(descr["num_rows"]), exg, descr.get("timestamp_channel"))
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001 - BrainFlow raises its own error type
        raise ParameterError(f"BrainFlow does not know board {board!r}: {exc}") from None
    if board_id not in BOARDS:
        raise ParameterError(
            f"unknown BrainFlow board {board!r}; without brainflow installed the known boards "
            f"are {', '.join(f'{k} ({v[0]})' for k, v in BOARDS.items())}")
    name, rate, rows, exg, ts = BOARDS[board_id]
    return board_id, name, rate, rows, exg, ts


def _board_id(board) -> int:
    if board is None:
        return 0
    try:
        return int(str(board).strip())
    except ValueError:
        pass
    text = str(board).strip().lower().replace("-", "_")
    text = text.removesuffix("_board")
    for board_id, (name, *_rest) in BOARDS.items():
        if text == name:
            return board_id
    raise ParameterError(f"unknown BrainFlow board {board!r}; give its numeric id "
                         f"or one of {', '.join(v[0] for v in BOARDS.values())}")


def looks_like_brainflow(first_line: str) -> bool:
    """True when a line is tab-separated numbers only (BrainFlow's file layout)."""
    parts = first_line.rstrip("\n").split("\t")
    if len(parts) < 4:
        return False
    try:
        [float(p) for p in parts]
    except ValueError:
        return False
    return True


def read_brainflow(path, *, board=None) -> Recording:
    """Read a BrainFlow CSV written by ``DataFilter.write_file``; EXG rows are typed EMG.

    Parameters
    ----------
    path : path-like
    board : int | str | None
        BrainFlow board id or name (default 0, Cyton).
    """
    board_id, name, sfreq, n_rows, exg, ts_row = board_description(board)
    warnings = []
    try:
        table = np.loadtxt(path, delimiter="\t", ndmin=2, dtype=float)
    except ValueError as exc:
        with open(path, encoding="latin-1") as fh:
            table, cut = reread_without_cut_row(fh.read().splitlines(), "\t", exc,
                                                f"'{path}': unreadable BrainFlow row")
        warnings.append(cut)
    if table.size == 0:
        raise EmptyRecordingError(f"'{path}': the BrainFlow file holds no samples")
    if table.shape[1] != n_rows:
        guess = [f"{k} ({v[0]})" for k, v in BOARDS.items() if v[2] == table.shape[1]]
        raise ParameterError(
            f"'{path}' has {table.shape[1]} columns but BrainFlow board {board_id} ({name}) "
            f"writes {n_rows}; pass the recording's board with board=... / --board"
            + (f" (boards with {table.shape[1]} columns: {', '.join(guess)})" if guess else ""))
    _check_rate(path, table, ts_row, sfreq, board_id, name)
    if ts_row is not None:
        warnings += [w for w in [backward_steps_warning(table[:, ts_row])] if w]
    meas_date = None
    if ts_row is not None and 1e9 < table[0, ts_row] < 1e10:  # Unix time in s
        meas_date = _dt.datetime.fromtimestamp(table[0, ts_row], tz=_dt.timezone.utc)
    data = table[:, exg].T * 1e-6
    names = [f"EXG{k + 1}" for k in range(len(exg))]
    return Recording(data=np.ascontiguousarray(data), sfreq=sfreq, ch_names=names,
                     ch_types=["emg"] * len(names), meas_date=meas_date, source=str(path),
                     format="brainflow",
                     metadata={"device": f"BrainFlow board {board_id} ({name})"},
                     warnings=warnings)


def _check_rate(path, table, ts_row, sfreq, board_id, name) -> None:
    """Refuse a board whose rate the file's own timestamps contradict.

    Boards with the same number of columns differ in rate (Cyton Daisy 125 Hz, the
    synthetic board 250 Hz): the wrong ``--board`` would silently scale every time.
    """
    if ts_row is None or table.shape[0] < 50:
        return
    stamps = table[:, ts_row]
    if not (1e9 < stamps[0] < 1e10):
        return
    # Packets arrive in bursts; the span over many samples gives the true rate. Steps back
    # (rows of two recordings joined) are left out: they say nothing about the rate.
    span = forward_span_s(stamps)
    if span <= 0:
        return
    measured = (table.shape[0] - 1) / span
    if abs(measured / sfreq - 1.0) > 0.2:
        raise ParameterError(
            f"'{path}': its timestamps say about {measured:.0f} Hz but BrainFlow board "
            f"{board_id} ({name}) records at {sfreq:g} Hz; pass the recording's board with "
            "board=... / --board")
