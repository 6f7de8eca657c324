"""The exceptions and warnings fascidetect raises.

One small hierarchy so callers can catch everything of ours with
``except FascidetectError`` and the CLI can turn it into one line on stderr.
Messages name the file (and channel, where there is one) and what to do.
"""

from __future__ import annotations


class FascidetectError(Exception):
    """Base class of every error raised on purpose by fascidetect."""


class InputError(FascidetectError):
    """The input recording cannot be read or analysed as given."""


class FileMissingError(InputError, FileNotFoundError):
    """The path does not exist."""


class UnknownFormatError(InputError):
    """The file's format could not be recognised from its suffix or content."""


class CorruptFileError(InputError):
    """The file claims a known format but its header or body is damaged or truncated."""


class EmptyRecordingError(InputError):
    """The file holds no samples."""


class NoEmgChannelError(InputError):
    """No channel of the recording looks like EMG and none was picked explicitly."""


class BadSamplesError(InputError):
    """The samples cannot be analysed: NaN/inf everywhere, every channel flat, and so on."""


class OutputError(FascidetectError):
    """The results cannot be written: output folder read-only, disk full, locked by another run."""


class TimeLimitError(FascidetectError):
    """A file took longer than the time allowed per file (``batch --timeout``)."""


class ParameterError(FascidetectError, ValueError):
    """A parameter value is out of range or inconsistent with the recording."""


class MissingDependencyError(FascidetectError, ImportError):
    """An optional dependency needed for the requested feature is not installed."""


class FascidetectWarning(UserWarning):
    """A condition that limits the analysis but does not stop it (low rate, flat channel...)."""


def describe(path) -> str:
    """Return a short quoted name of *path* for use in messages."""
    return f"'{path}'" if path is not None else "<in-memory data>"
