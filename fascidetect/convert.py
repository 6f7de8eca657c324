"""Convert: any recording fascidetect reads (OpenBCI, BrainFlow, CSV...) into a BIDS EMG
dataset written by MNE-BIDS, with the muscles in ``channels.tsv`` (``target_muscle``).

BDF (24-bit) is the default: consumer boards record DC offsets of tens of mV, and EDF's
16 bits over such a range would quantise in µV steps, as large as the EMG noise.
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

from .errors import InputError, MissingDependencyError, ParameterError

#: Data formats MNE-BIDS writes for EMG.
BIDS_FORMATS = ("bdf", "edf")
_SIDES = {"R": "right", "L": "left"}


def target_muscle(label: str) -> str:
    """Return the BIDS ``target_muscle`` text for a muscle label (``"TA_R"`` ->
    ``"right tibialis anterior"``); labels outside the myotome table are kept as given."""
    from .myotomes import MUSCLES, muscle_for_channel, side_for_channel

    key = muscle_for_channel(label)
    if key is None:
        return label
    side = side_for_channel(label)
    name = MUSCLES[key].name
    return f"{_SIDES[side]} {name}" if side in _SIDES else name


def _add_target_muscles(channels_tsv: Path, muscles: dict) -> None:
    """Add a ``target_muscle`` column to a channels.tsv (``n/a`` where unknown)."""
    with open(channels_tsv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        return
    fields = list(rows[0]) + (["target_muscle"] if "target_muscle" not in rows[0] else [])
    tmp = channels_tsv.with_name(f".{channels_tsv.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            label = muscles.get(row["name"])
            writer.writerow(dict(row, target_muscle=target_muscle(label) if label else "n/a"))
    os.replace(tmp, channels_tsv)


def convert_to_bids(path, bids_root, *, subject: str = "01", session: str | None = None,
                    task: str = "rest", run: str | None = None, muscles=None,
                    line_freq: float | None = None, data_format: str = "bdf",
                    read_options: dict | None = None, overwrite: bool = False):
    """Write one recording into a BIDS EMG dataset and return its ``BIDSPath``.

    Parameters
    ----------
    path : path
        Any recording :func:`fascidetect.read` reads.
    bids_root : path
        The BIDS dataset (created if absent; other subjects/sessions are kept).
    subject, session, task, run : str
        BIDS entities (labels without prefix).
    muscles : str | dict | None
        Channel-to-muscle map (``"1=TA_R,2=GAS_R"`` over the EMG channels, or a TSV):
        written as ``target_muscle`` in ``channels.tsv``; default the muscles the
        channel names name.
    line_freq : float | None
        Mains frequency for ``PowerLineFrequency`` (50 or 60; default ``n/a``).
    data_format : {"bdf", "edf"}
    read_options : dict | None
        Keyword arguments for :func:`fascidetect.read`.
    overwrite : bool
        Replace an existing recording with the same entities.

    Examples
    --------
    >>> convert_to_bids("openbci.txt", "bids", subject="01", session="01",
    ...                 muscles="1=TA_R,2=GAS_R", line_freq=50)          # doctest: +SKIP
    """
    try:
        import mne_bids
    except ImportError:  # pragma: no cover - depends on environment
        raise MissingDependencyError("convert needs mne-bids: pip install 'fascidetect[bids]'") from None
    from .io import read
    from .myotomes import label_channels

    data_format = data_format.lower()
    if data_format not in BIDS_FORMATS:
        raise ParameterError(f"BIDS data format must be one of {BIDS_FORMATS}, got {data_format!r}")
    if line_freq is not None and float(line_freq) not in (50.0, 60.0):
        raise ParameterError(f"line frequency must be 50 or 60 Hz, got {line_freq!r}")
    rec = read(path, preload=True, **(read_options or {}))
    emg = [rec.ch_names[i] for i in rec.emg_picks]
    if not emg:
        raise InputError(f"'{path}': no EMG channel to convert (name them with --emg-channels)")
    from .myotomes import parse_muscle_map

    beyond = [k for k in parse_muscle_map(muscles) if k.startswith("#") and int(k[1:]) > len(emg)]
    if beyond:
        raise ParameterError(f"muscle map numbers channel(s) {[k[1:] for k in beyond]} but "
                             f"'{path}' has {len(emg)} EMG channel(s): {emg}")
    labels = {k: v for k, v in label_channels(emg, muscles).items() if v}
    raw = rec.to_raw()
    raw.info["line_freq"] = float(line_freq) if line_freq is not None else None
    bids_path = mne_bids.BIDSPath(subject=subject, session=session, task=task, run=run,
                                  datatype="emg", root=bids_root)
    written = bids_path.copy().update(suffix="emg", extension=f".{data_format}")
    if not overwrite and (Path(written.fpath).exists()
                          or Path(written.copy().update(extension=".json").fpath).exists()):
        raise InputError(f"'{written.fpath}' (or its sidecar) already exists; pass --overwrite "
                         "or choose another --session/--run")
    with warnings.catch_warnings():
        # MNE-BIDS warns about what a consumer board never records (electrode positions).
        warnings.simplefilter("ignore")
        try:
            mne_bids.write_raw_bids(raw, bids_path, format=data_format.upper(),
                                    allow_preload=True, emg_placement="Other",
                                    overwrite=overwrite, verbose="error")
        except (FileExistsError, ValueError) as exc:
            raise InputError(f"'{path}': MNE-BIDS cannot write it to '{bids_root}' ({exc})") from None
    sidecar = written.copy().update(extension=".json")
    placement = ("Electrodes placed by the user over the muscles named in channels.tsv "
                 "(target_muscle); converted by fascidetect from "
                 f"{rec.format} ({Path(path).name}).")
    device = str(rec.metadata.get("device") or "")
    # MNE-BIDS names the maker from the file suffix (BDF -> Biosemi); say what recorded it.
    maker = "OpenBCI" if rec.format in ("openbci", "brainflow") or "openbci" in device.lower() \
        else "n/a"
    fields = {"EMGPlacementSchemeDescription": placement, "Manufacturer": maker}
    if device:
        fields["ManufacturersModelName"] = device
    mne_bids.update_sidecar_json(sidecar, fields, verbose="error")
    _add_target_muscles(Path(written.copy().update(suffix="channels", extension=".tsv").fpath),
                        labels)
    return written
