"""Which channels are EMG: channel types from MNE types and from channel labels."""

from __future__ import annotations

import re

# EDF's recommended labels put the signal type first ("EMG TA_R", "ECG ECG1", "EEG Fp1-Ref");
# clinical exports add vendor prefixes such as "POL" (Nihon Kohden polygraph inputs).
_PREFIX_TYPES = {
    "emg": "emg", "ecg": "ecg", "ekg": "ecg", "eeg": "eeg", "eog": "eog", "resp": "resp",
    "sao2": "bio", "spo2": "bio", "pleth": "bio", "temp": "misc", "pol": "misc",
    "trig": "stim", "trigger": "stim", "status": "stim", "event": "stim", "marker": "stim",
    "acc": "misc", "accel": "misc", "gyro": "misc", "exg": "emg",
}
_TOKEN = re.compile(r"[A-Za-z0-9]+")

_MNE_TYPES = {"emg": "emg", "ecg": "ecg", "eeg": "eeg", "eog": "eog", "stim": "stim",
              "resp": "resp", "bio": "bio", "misc": "misc"}


def mne_type_to_ours(mne_type: str) -> str:
    """Return the Recording channel type for an MNE channel type (``misc`` if unknown)."""
    return _MNE_TYPES.get(str(mne_type).lower(), "misc")


#: Columns of exported tables that are not signals at all.
_NOT_SIGNALS = {"time", "times", "timestamp", "timestamps", "t", "sample", "samples", "index",
                "sampleindex", "sample_index", "marker", "markers", "trigger", "event", "events",
                "seconds", "sec", "s", "ms", "date", "clock"}


def channel_type_from_label(label: str) -> str | None:
    """Return the channel type a label states, or None when it does not say.

    A label says EMG when its first word is a type prefix (``EMG TA_R``), when it holds
    the word EMG anywhere (``Chin EMG``, ``EMG1``, ``emg_left``), or when it names a
    muscle of :mod:`fascidetect.myotomes` (``TA_R``, ``Gastrocnemius L``).
    """
    text = str(label).strip()
    tokens = _TOKEN.findall(text)
    if not tokens:
        return None
    if text.lower().replace(" ", "") in _NOT_SIGNALS or (
            tokens[0].lower() in _NOT_SIGNALS and len(tokens) <= 2
            and not any(t.lower().startswith("emg") for t in tokens)):
        return "stim" if tokens[0].lower() in ("marker", "markers", "trigger", "event", "events") \
            else "misc"
    if tokens[0].lower() in _PREFIX_TYPES and len(tokens) > 1:  # "SaO2 X9"
        return _PREFIX_TYPES[tokens[0].lower()]
    first = re.match(r"[A-Za-z]+", tokens[0])
    if first and first.group(0).lower() in _PREFIX_TYPES and (
            len(tokens) > 1 or first.group(0).lower() in ("emg", "ecg", "ekg", "eog")):
        return _PREFIX_TYPES[first.group(0).lower()]
    if any(re.fullmatch(r"emg\d*", t.lower()) or t.lower().startswith("emg") for t in tokens):
        return "emg"
    if any(re.fullmatch(r"(ecg|ekg)\d*", t.lower()) for t in tokens):
        return "ecg"
    if _names_a_muscle(text):
        return "emg"
    return None


def _names_a_muscle(label: str) -> bool:
    """True when the label names a muscle of the myotome table."""
    try:
        from ..myotomes import muscle_for_channel
    except ImportError:  # pragma: no cover - the table ships with the package
        return False
    try:
        return muscle_for_channel(label) is not None
    except Exception:  # noqa: BLE001 - a label we cannot parse simply names no muscle
        return False


def types_from_labels(labels, default: str = "misc") -> list[str]:
    """Return one channel type per label (``default`` where the label does not say)."""
    return [channel_type_from_label(label) or default for label in labels]
