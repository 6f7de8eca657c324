"""What a batch worker imports before its first file (local pool and Dask workers).

The pipeline's modules import SciPy's signal and stats modules and MNE lazily, so that
``fascidetect --help`` and ``import fascidetect`` stay fast (issue 14); a worker that only
preloaded the pipeline still paid about 1.2 s of CPU for those imports in its first file.
Imported here, the local pool's fork server pays them once for all its workers, and a
Dask worker pays them as it starts, not inside a file's time. An import that fails
here (a broken install) is left to the file that needs it: raised here, it would stop
the fork server and so the whole batch.
"""

import contextlib


def _import_all() -> None:
    import scipy.cluster.hierarchy  # motor-unit clustering
    import scipy.cluster.vq
    import scipy.signal  # noqa: F401 - filter design, peak search (imports scipy.stats)
    import threadpoolctl  # noqa: F401 - one BLAS thread per worker
    from mne.io import read_raw_bdf, read_raw_edf  # noqa: F401 - MNE loads its readers lazily

    from . import _threads, fftfilter, jobs, pipeline  # noqa: F401
    from .io import _edf, _validate  # noqa: F401


# Only a head start: a file that needs a broken module reports the error itself; raised
# here, it would stop the fork server.
with contextlib.suppress(Exception):
    _import_all()
