"""fascidetect: find fasciculations in surface EMG and tell them from spasms and artifacts.

The public API is small; heavy dependencies (SciPy, MNE, matplotlib) load only when a
function that needs them is called, so ``import fascidetect`` stays fast.

>>> import fascidetect
>>> rec = fascidetect.read("recording.edf")          # doctest: +SKIP
>>> result = fascidetect.detect(rec)                  # doctest: +SKIP
>>> result.to_tsv("recording_events.tsv")             # doctest: +SKIP
"""

from ._version import __version__
from .errors import FascidetectError, FascidetectWarning, InputError, ParameterError
from .recording import Annotation, Recording

__all__ = [
    "__version__",
    "Recording",
    "Annotation",
    "read",
    "detect",
    "DetectionParams",
    "DetectionResult",
    "simulate",
    "evaluate",
    "write_report",
    "find_discharges",
    "find_sustained_activity",
    "find_heart_beats",
    "fit_power_line",
    "FascidetectError",
    "FascidetectWarning",
    "InputError",
    "ParameterError",
]

_LAZY = {
    "read": ("fascidetect.io", "read"),
    "detect": ("fascidetect.pipeline", "detect"),
    "DetectionParams": ("fascidetect.params", "DetectionParams"),
    "DetectionResult": ("fascidetect.results", "DetectionResult"),
    "simulate": ("fascidetect.simulation", "simulate"),
    "evaluate": ("fascidetect.evaluation", "evaluate"),
    "write_report": ("fascidetect.report", "write_report"),
    "find_discharges": ("fascidetect.steps", "find_discharges"),
    "find_sustained_activity": ("fascidetect.steps", "find_sustained_activity"),
    "find_heart_beats": ("fascidetect.steps", "find_heart_beats"),
    "fit_power_line": ("fascidetect.steps", "fit_power_line"),
}
#: Submodules reachable as attributes (``fascidetect.plot.plot_traces``) without an import.
_SUBMODULES = ("plot", "report", "batch", "myotomes", "io", "events", "simulation", "evaluation",
               "stages", "steps", "candidates")


def __getattr__(name):
    # Lazy attributes keep `import fascidetect` free of scipy/mne/matplotlib imports.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"fascidetect.{name}")
    raise AttributeError(f"module 'fascidetect' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
