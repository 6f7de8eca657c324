"""Figures of a detection result (matplotlib, imported only when a figure is drawn).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (so it works
headless and leaves pyplot's backend alone) and accepts existing axes to draw into.
"""

from .overview import plot_overview
from .rates import plot_histograms, plot_raster_rate
from .traces import plot_traces
from .waveforms import plot_waveforms

__all__ = ["plot_traces", "plot_waveforms", "plot_raster_rate", "plot_overview",
           "plot_histograms"]
