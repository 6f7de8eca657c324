"""Live monitoring: fasciculations counted while the person lies still.

Pieces, one job each:

- :mod:`.sources` - where samples come from (BrainFlow boards, an LSL stream through
  mne-lsl, an array or file played at real time);
- :mod:`.filters` - causal, stateful band-pass + notch and the adaptive noise estimate
  (the traces drawn, and the fault checks);
- :mod:`.faults` - railed, flat or disconnected channels, dropped samples, stalls;
- :mod:`.processor` - :class:`LiveProcessor`: the sliding analysis window on which the
  offline pipeline (:func:`fascidetect.detect`, so the same classification ``STAGES``)
  runs, each discharge committed once after a bounded look-ahead;
- :mod:`.writer` - the raw stream to a BDF file and the events to a TSV, flushed every
  few seconds;
- :mod:`.view` - the matplotlib window and the one-line terminal status;
- :mod:`.session` - the loop that ties them together (``fascidetect live``).

BrainFlow and mne-lsl are the optional extra ``live`` (``pip install "fascidetect[live]"``);
only :mod:`.sources` imports them.
"""

from .processor import LiveProcessor, LiveSettings

__all__ = ["LiveProcessor", "LiveSettings"]
