"""One rule for the text fascidetect writes: no control characters in any field.

A tab or newline inside an EDF label, a muscle name or an annotation would split the
rows and columns of ``events.tsv`` and ``batch_summary.tsv`` (and make ``evaluate`` and
``report --events`` refuse the tool's own output). Every control character, and the
Unicode line and paragraph separators that ``str.splitlines`` breaks on, becomes a space.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_text(value) -> str:
    """Return ``str(value)`` with every control character replaced by a space.

    Examples
    --------
    >>> clean_text("EMG\\tTA\\nR")
    'EMG TA R'
    """
    text = str(value)
    return _CONTROL.sub(" ", text) if _CONTROL.search(text) else text
