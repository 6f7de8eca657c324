"""Where live samples come from: BrainFlow boards, an LSL stream, or a recording played
at real time.

Every source has ``sfreq``, ``ch_names``, ``rail_v`` (the amplifier's input limit in
volts, or None) and ``read()``, which returns the samples that arrived since the last
call, in volts, shape ``(n_channels, n)``, with NaN columns where samples were lost
(so time stays aligned) and the number of samples lost. BrainFlow and mne-lsl are the
optional extra ``live``; they are imported only when such a source is opened.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InputError, ParameterError

#: Board names accepted by ``--board`` (BrainFlow ids).
BOARD_NAMES = {"synthetic": -1, "cyton": 0, "ganglion": 1, "cyton-daisy": 2,
               "cyton_daisy": 2, "playback": -3}
#: OpenBCI ADS1299 input range at gain 24: +-4.5 V / 24 (V).
CYTON_RAIL_V = 4.5 / 24
#: The most samples filled with NaN for one gap (longer gaps are a new start, s).
_MAX_GAP_S = 5.0


def _missing_extra(what: str):
    return InputError(f"{what} is not installed: pip install \"fascidetect[live]\" "
                      "(brainflow and mne-lsl)")


def board_id(board) -> int:
    """Return the BrainFlow board id for a name (``cyton``...) or an id (``"0"``)."""
    key = str(board).strip().lower()
    if key in BOARD_NAMES:
        return BOARD_NAMES[key]
    try:
        return int(key)
    except ValueError:
        raise ParameterError(f"unknown board {board!r}; use one of "
                             f"{', '.join(sorted(BOARD_NAMES))} or a BrainFlow board id") from None


def _fill_gaps(data: np.ndarray, missing_before: np.ndarray) -> np.ndarray:
    """Insert ``missing_before[i]`` NaN columns before column ``i``."""
    if not missing_before.any():
        return data
    reps = np.ones(data.shape[1], dtype=int) + missing_before
    idx = np.repeat(np.arange(data.shape[1]), reps)
    out = data[:, idx].copy()
    first = np.cumsum(reps) - reps     # where each column's block starts
    mask = np.ones(idx.size, dtype=bool)
    mask[first + missing_before] = False   # the real sample is the last of its block
    out[:, mask] = np.nan
    return out


class BrainFlowSource:
    """An OpenBCI (or any BrainFlow) board, BrainFlow's synthetic board, or a BrainFlow
    CSV file played by BrainFlow's playback board.

    Parameters
    ----------
    board : str | int
        ``cyton``, ``ganglion``, ``cyton-daisy``, ``synthetic``, ``playback`` or an id.
    serial_port : str | None
        The dongle's port (``/dev/ttyUSB0``, ``COM3``) for Cyton and Ganglion.
    file : str | None
        BrainFlow CSV to play (playback board).
    master_board : str | int
        The board that recorded ``file`` (its row layout and rate).
    """

    def __init__(self, board="synthetic", serial_port: str | None = None, file: str | None = None,
                 master_board="synthetic"):
        try:
            from brainflow.board_shim import BoardShim, BrainFlowInputParams
        except ImportError:
            raise _missing_extra("BrainFlow") from None
        BoardShim.disable_board_logger()
        bid = board_id(board)
        params = BrainFlowInputParams()
        if serial_port:
            params.serial_port = serial_port
        descr_id = bid
        if file is not None or bid == -3:
            if file is None:
                raise ParameterError("the playback board needs a BrainFlow CSV file (--file)")
            bid, descr_id = -3, board_id(master_board)
            params.file = str(file)
            params.master_board = descr_id
        descr = BoardShim.get_board_descr(descr_id)
        self.sfreq = float(descr["sampling_rate"])
        self._exg = list(descr.get("exg_channels") or descr.get("eeg_channels") or
                         descr.get("emg_channels"))
        self._pkg = descr.get("package_num_channel")
        # Board inputs by number: BrainFlow's names are EEG montage sites, not muscles.
        self.ch_names = [f"EMG {i + 1}" for i in range(len(self._exg))]
        self.rail_v = CYTON_RAIL_V if descr_id in (0, 2, 5, 6) else None
        self.name = descr.get("name", str(descr_id))
        self._last_pkg = None
        self._board = BoardShim(bid, params)
        try:
            self._board.prepare_session()
            if bid == -3:
                self._board.config_board("loopback_false")  # play the file once
            self._board.start_stream(45000)
        except Exception as exc:  # noqa: BLE001 - BrainFlowError and OS errors alike
            raise InputError(f"cannot open BrainFlow board {board!r}"
                             f"{' on ' + serial_port if serial_port else ''}: {exc}") from None

    def read(self) -> tuple[np.ndarray, int]:
        """Return the new samples (V, NaN where packets were lost) and how many were lost."""
        table = self._board.get_board_data()
        if table.shape[1] == 0:
            return np.empty((len(self._exg), 0)), 0
        data = table[self._exg] * 1e-6     # BrainFlow gives EXG in µV
        if self._pkg is None:
            return data, 0
        pkg = table[self._pkg].astype(int)
        prev = pkg[0] - 1 if self._last_pkg is None else self._last_pkg
        # Cyton counts 0-255; Cyton+Daisy steps by 2 within the same cycle.
        step = np.diff(np.concatenate([[prev], pkg]))
        usual = int(np.median(step % 256)) if step.size > 2 else 1
        usual = usual if usual in (1, 2) else 1
        missing = np.clip((step % 256) // usual - 1, 0, int(_MAX_GAP_S * self.sfreq))
        self._last_pkg = int(pkg[-1])
        return _fill_gaps(data, missing), int(missing.sum())

    def close(self) -> None:
        """Stop the stream and release the board."""
        try:
            self._board.stop_stream()
        finally:
            self._board.release_session()
            self._board = None   # BoardShim.__del__ at interpreter exit would print errors


class LslSource:
    """An LSL stream (OpenBCI GUI, another acquisition program, or mne-lsl's player).

    Parameters
    ----------
    name : str
        The LSL stream name.
    units : {"auto", "V", "uV", "mV"}
        Unit of the stream's samples; ``auto`` takes µV when the first samples exceed 1.
    timeout_s : float
        How long to look for the stream.
    """

    def __init__(self, name: str, units: str = "auto", timeout_s: float = 5.0):
        try:
            from mne_lsl.stream import StreamLSL
        except ImportError:
            raise _missing_extra("mne-lsl") from None
        self._stream = StreamLSL(bufsize=10.0, name=name)
        try:
            self._stream.connect(acquisition_delay=0.02, timeout=timeout_s)
        except Exception as exc:  # noqa: BLE001 - mne-lsl raises RuntimeError
            raise InputError(f"no LSL stream named {name!r} found in {timeout_s:g} s: {exc}") from None
        self.sfreq = float(self._stream.info["sfreq"])
        if self.sfreq <= 0:
            raise InputError(f"LSL stream {name!r} has an irregular rate; a fixed rate is needed")
        self.ch_names = [n if n.upper().startswith("EMG") else f"EMG {n}"
                         for n in self._stream.ch_names]
        self.rail_v = None
        self.name = name
        self._units = units
        self._scale = {"V": 1.0, "uV": 1e-6, "mV": 1e-3}.get(units)
        self._last_ts = None

    def read(self) -> tuple[np.ndarray, int]:
        """Return the new samples (V, NaN where the time stamps show a gap) and how many
        were lost."""
        n = self._stream.n_new_samples
        if n == 0:
            return np.empty((len(self.ch_names), 0)), 0
        # Samples keep arriving between the count and the read: ask for more than counted
        # (the 10-s buffer holds them) and keep those newer than the last time stamp.
        if self._last_ts is not None:   # (the first read: the buffer before it is empty)
            n += int(0.5 * self.sfreq)
        n = min(n, int(9.0 * self.sfreq))
        data, ts = self._stream.get_data(winsize=n / self.sfreq)
        if self._last_ts is not None:
            keep = ts > self._last_ts + 0.5 / self.sfreq
            data, ts = data[:, keep], ts[keep]
        if ts.size == 0:
            return np.empty((len(self.ch_names), 0)), 0
        if self._scale is None:
            self._scale = 1e-6 if np.nanmax(np.abs(data)) > 1.0 else 1.0
        prev = ts[0] - 1.0 / self.sfreq if self._last_ts is None else self._last_ts
        gaps = np.diff(np.concatenate([[prev], ts])) * self.sfreq
        missing = np.clip(np.round(gaps).astype(int) - 1, 0, int(_MAX_GAP_S * self.sfreq))
        self._last_ts = float(ts[-1])
        return _fill_gaps(data * self._scale, missing), int(missing.sum())

    def close(self) -> None:
        """Disconnect from the stream."""
        self._stream.disconnect()


class ArraySource:
    """A recording (volts) played chunk by chunk, at real time or as fast as read.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples)
    sfreq : float
    ch_names : list of str
    realtime : bool
        Release samples as the wall clock passes (True) or one chunk per read (False).
    chunk_s : float
        Chunk length when not real time, s.
    """

    def __init__(self, data, sfreq: float, ch_names, realtime: bool = True, chunk_s: float = 0.05):
        self._data = np.asarray(data, dtype=float)
        self.sfreq = float(sfreq)
        self.ch_names = list(ch_names)
        self.rail_v = None
        self.name = "array"
        self._realtime = realtime
        self._chunk = max(int(chunk_s * sfreq), 1)
        self._pos = 0
        self._t0 = None

    @classmethod
    def from_file(cls, path, realtime: bool = True, **read_options) -> ArraySource:
        """Play a recording file (any format :func:`fascidetect.read` knows)."""
        from ..io import read

        rec = read(path, **read_options)
        picks = rec.emg_picks
        return cls(rec.get_data(picks), rec.sfreq, [rec.ch_names[i] for i in picks], realtime)

    def read(self) -> tuple[np.ndarray, int]:
        """Return the samples due now."""
        if self._realtime:
            self._t0 = time.perf_counter() if self._t0 is None else self._t0
            upto = min(int((time.perf_counter() - self._t0) * self.sfreq), self._data.shape[1])
        else:
            upto = min(self._pos + self._chunk, self._data.shape[1])
        out = self._data[:, self._pos:upto]
        self._pos = upto
        return out, 0

    @property
    def exhausted(self) -> bool:
        """True once every sample was read."""
        return self._pos >= self._data.shape[1]

    def close(self) -> None:
        """Nothing to release."""


def open_source(board=None, serial_port=None, file=None, master_board="synthetic", lsl=None,
                lsl_units="auto", realtime=True):
    """Open the source named by ``fascidetect live``'s options.

    ``--lsl NAME`` an LSL stream; ``--board`` a BrainFlow board (with ``--file`` a
    BrainFlow CSV played by the playback board); ``--file`` alone any recording file
    fascidetect reads, played at real time.
    """
    if lsl is not None and board is not None:
        raise ParameterError("choose one source: --board or --lsl")
    if lsl is not None:
        return LslSource(lsl, units=lsl_units)
    if board is not None:
        return BrainFlowSource(board, serial_port=serial_port, file=file, master_board=master_board)
    if file is not None:
        return ArraySource.from_file(file, realtime=realtime)
    raise ParameterError("no source: give --board NAME, --lsl NAME or --file PATH")
