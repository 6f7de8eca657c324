"""The candidate table: every discharge the block scan found, with its features, and the
label and reason the classification stages give it.

Stages read the table and a :class:`~fascidetect.stages.Context`; they return labels
and reasons and never change anything else (see :mod:`fascidetect.stages`). The driver
then turns the labelled table into the event table of ``events.tsv``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import features as _features
from . import glitches as _glitches
from . import noise as _noise
from ._spill import SpilledColumns
from .events import COLUMN_NAMES, CodedEvents, _missing, empty_events

#: Labels a stage may give. ``excluded`` rows lie outside the analysed rest (recording
#: edges, bad spans, annotated tasks, spasm and voluntary episodes): the episode rows
#: stand for them, so they are not written as events.
LABELS = ("fasciculation", "voluntary", "artifact", "excluded")

#: Why a candidate got its label (the ``reason`` column of ``events.tsv``).
REASONS = {
    # fasciculation
    "isolated_discharge": "brief, localized, both intervals on its channel > isolation_interval_s",
    "sporadic_discharge": "brief, localized and sporadic, but within isolation_interval_s of another",
    # voluntary (discharges)
    "firing_cluster": "in a cluster too dense for the channel's sporadic (Poisson) rate",
    "ongoing_activity": "inside ongoing sub-threshold activity on its channel",
    "burst_edge": "within burst_edge_s of a firing cluster on its channel",
    "not_at_rest": "its channel's background is above the noise floor (low-level activity)",
    "tonic_firing": "member of a regular firing train (tonic or voluntary unit, 5-25 Hz)",
    "low_level_firing": "small, where its channel has too many sub-threshold peaks for noise (tonic units)",
    "derecruitment": "in the derecruitment tail of an episode on a channel it held",
    # artifact (the artifact_kind)
    "ecg": "part of a heart-rate periodic rhythm",
    "motion": "inside a motion span, or low-frequency and large or widespread",
    "pop": "a low-frequency step on one channel (electrode pop)",
    "saturation": "flat tops at the amplifier's rail",
    "large": "beyond max_fasciculation_p2p_uv",
    "widespread": "evenly large on most channels of separate muscles",
    # episodes (spasm / voluntary rows)
    "sustained_recruitment": "spasm: sustained RMS elevation on several channels",
    "one_channel_sustained": "voluntary: sustained RMS elevation on one channel",
    "annotated_task": "voluntary: inside an annotated task period",
    # excluded candidates (not written as events)
    "in_spasm": "inside a spasm episode",
    "in_voluntary_episode": "inside a voluntary episode",
    "outside_rest": "recording edge, BAD annotation or NaN stretch",
    "below_local_noise": "under threshold_sigma of its window's noise (a floor that rose within its segment)",
}



def coded(values) -> np.ndarray:
    """Return ``values`` as an object array whose equal strings are one shared object.

    The label, reason and artifact-kind columns hold a handful of distinct strings: as
    shared objects they cost a pointer (8 bytes) per row, where fixed-width ``U16`` /
    ``U24`` columns took 224 bytes of every candidate (issue 14). They compare with
    ``==`` like the strings they were; they become fixed width only in the event table.
    """
    values = np.asarray(values)
    if values.dtype == object:
        return values
    vocab, inverse = np.unique(values.ravel(), return_inverse=True)
    return np.array([str(v) for v in vocab], dtype=object)[inverse].reshape(values.shape) \
        if vocab.size else np.empty(values.shape, dtype=object)


@dataclasses.dataclass
class Candidates:
    """Candidate discharges, one row per multichannel event (columns are arrays).

    Attributes
    ----------
    sample : ndarray of int64
        Sample of the largest absolute peak on the main channel.
    centre : ndarray of int64
        Sample the snippets are centred on (the main channel's energy centroid).
    channel : ndarray of int
        Main channel (index into the analysed EMG channels).
    channels : ndarray of bool, shape (n, n_channels)
        Channels with a peak merged into the event.
    amplitude : ndarray of float
        Signed band-passed amplitude at the peak, V.
    snr : ndarray of float
        Absolute peak over the main channel's local noise sigma.
    features : dict of str -> ndarray
        (or a :class:`fascidetect._spill.SpilledColumns`, the same mapping kept in a
        temporary file: the scan's table for a day has 18 MB of features, issue 14)
        ``p2p`` (V), ``duration_ms``, ``n_phases``, ``n_turns``, ``onset_offset`` and
        ``length`` (samples) from :func:`fascidetect.features.waveform_features`;
        ``lf_ratio``, ``step_ratio``, ``flat_top`` from
        :func:`fascidetect.features.artifact_features`; ``evenness`` (median over
        largest channel peak-to-peak).
    snip_row : ndarray of int
        Row of the candidate's multichannel snippet in the scan's waveform sample, -1
        when not held.
    artifact_kind : ndarray of str (object)
        Artifact evidence ('' when none), from :func:`fascidetect.stages.artifacts.
        artifact_evidence`, judged on every candidate before any label is set.
    label, reason : ndarray of str (object)
        Set by the classification stages ('' until a stage decides). The three string
        columns are object arrays of shared strings (:func:`coded`).
    match_score : ndarray of float
        Whitened matched-filter score (noise sigmas) of discharges found by template
        matching (:mod:`fascidetect.matching`); NaN for those the threshold scan found.
    """

    sample: np.ndarray
    centre: np.ndarray
    channel: np.ndarray
    channels: np.ndarray
    amplitude: np.ndarray
    snr: np.ndarray
    features: dict
    snip_row: np.ndarray
    artifact_kind: np.ndarray = None
    label: np.ndarray = None
    reason: np.ndarray = None
    match_score: np.ndarray = None

    def __post_init__(self):
        n = self.sample.size
        if self.match_score is None:
            self.match_score = np.full(n, np.nan)
        self.artifact_kind = np.full(n, "", dtype=object) if self.artifact_kind is None \
            else coded(self.artifact_kind)
        self.label = np.full(n, "", dtype=object) if self.label is None else coded(self.label)
        self.reason = np.full(n, "", dtype=object) if self.reason is None else coded(self.reason)

    def __len__(self) -> int:
        return int(self.sample.size)

    @property
    def spread(self) -> np.ndarray:
        """Number of channels each candidate is seen on."""
        return self.channels.sum(axis=1)

    def times(self, sfreq: float) -> np.ndarray:
        """Peak times, s from recording start."""
        return self.sample / sfreq

    def apply(self, labels: np.ndarray, reasons: np.ndarray) -> None:
        """Set labels and reasons where a stage decided and no earlier stage had.

        The first stage to label a candidate wins: the order of the stage list is the
        precedence of the decisions.
        """
        labels = coded(labels)
        if labels.shape != self.label.shape:
            raise ValueError(f"a stage returned {labels.shape} labels for {len(self)} candidates")
        unknown = set(labels.tolist()) - set(LABELS) - {""}
        if unknown:
            raise ValueError(f"a stage returned unknown labels {sorted(unknown)}; use {LABELS}")
        new = (self.label == "") & (labels != "")
        self.label[new] = labels[new]
        if isinstance(reasons, str):  # one shared string, not a copy per row
            self.reason[new] = reasons
        else:
            self.reason[new] = np.broadcast_to(coded(reasons), labels.shape)[new]

    def select(self, keep: np.ndarray) -> "Candidates":
        """Return the rows where ``keep`` (a mask or indices), every column with them."""
        return Candidates(sample=self.sample[keep], centre=self.centre[keep],
                          channel=self.channel[keep], channels=self.channels[keep],
                          amplitude=self.amplitude[keep], snr=self.snr[keep],
                          features={k: v[keep] for k, v in self.features.items()},
                          snip_row=self.snip_row[keep], artifact_kind=self.artifact_kind[keep],
                          label=self.label[keep], reason=self.reason[keep],
                          match_score=self.match_score[keep])

    @classmethod
    def concatenate(cls, parts: list["Candidates"], consume: bool = False,
                    spill: bool = False) -> "Candidates":
        """Return one table from the blocks' tables (in block order).

        With ``consume`` the parts' columns are let go as each is joined (the parts are
        unusable after), so the table is not held twice while it is built. With
        ``spill``, or when a part's features are spilled, the features are kept in a
        temporary file (:class:`fascidetect._spill.SpilledColumns`), each written as it
        is joined.
        """
        if not parts:
            raise ValueError("no candidate tables to concatenate")

        def cat(name):
            out = np.concatenate([getattr(p, name) for p in parts], axis=0)
            if consume:
                for p in parts:
                    setattr(p, name, None)
            return out

        def cat_feature(key):
            out = np.concatenate([p.features[key] for p in parts])
            if consume:
                for p in parts:
                    del p.features[key]
            return out

        columns = {name: cat(name) for name in _COLUMNS}
        spill = spill or any(isinstance(p.features, SpilledColumns) for p in parts)
        features = SpilledColumns() if spill else {}
        for k in list(parts[0].features):  # loop over the features
            features[k] = cat_feature(k)
        return cls(features=features, **columns)

    def park(self, keep=(), store: SpilledColumns | None = None, key: str = "") -> tuple:
        """Move every column but the features and ``keep`` to a temporary file (the text
        columns as codes) and return what :meth:`unpark` brings back; the columns are
        None until then. ``store`` and ``key``: a file shared by several tables, each
        under its own key.

        The matching pass reads the table before and after its blocks, not during them,
        and the scan reads only the ``sample`` of the blocks it has merged: a day's
        14 MB of columns sat under the blocks' temporaries (issue 14).
        """
        store = SpilledColumns() if store is None else store
        vocabulary = {}
        for name in _COLUMNS:  # each column let go as it is written
            values = getattr(self, name)
            if values is None or name in keep:
                continue
            if values.dtype == object:  # shared strings: codes into the distinct ones
                vocabulary[name], values = _codes(values)
            store[key + name] = values
            setattr(self, name, None)
        return store, vocabulary, key

    def unpark(self, parked: tuple) -> None:
        """Bring back the columns :meth:`park` moved (the same values and dtypes)."""
        store, vocabulary, key = parked
        for name in _COLUMNS:  # loop over the columns
            if key + name not in store:
                continue
            values = store[key + name]
            del store[key + name]
            setattr(self, name, vocabulary[name][values] if name in vocabulary else values)

    def keep_features(self, names) -> None:
        """Drop every feature but ``names``, and the columns no event is written from
        (``amplitude``, ``artifact_kind``, ``snip_row``), once the stages have run.
        Spilled features stay in their file (read once each by the event table: a day's
        six are 8 MB, issue 14)."""
        if isinstance(self.features, SpilledColumns):
            for k in list(self.features):  # loop over the features
                if k not in names:
                    del self.features[k]
        else:
            self.features = {k: self.features[k] for k in self.features if k in names}
        self.amplitude = self.artifact_kind = self.snip_row = None

    def narrow_integers(self, n_samples: int) -> None:
        """Hold the integer columns (sample indices, channel, snippet row) and integer
        features as int32 when a recording of ``n_samples`` keeps them in range.

        Seven to nine int64 columns of the table's ~200 bytes a row (issue 14: a day of
        8 channels at 2 kHz has 1.7e8 samples, far under 2^31). A recording of 2^31
        samples or more (60 h at 10 kHz) keeps int64. The values are unchanged; every
        use computes in int64 or float64 where a product could grow (``astype`` first).
        """
        if n_samples >= _INT32_SAMPLES:
            return
        for name in _INTEGER_COLUMNS:
            values = getattr(self, name)
            if values is not None and values.dtype.kind == "i" and values.itemsize > 4:
                setattr(self, name, values.astype(np.int32))
        for key, values in self.features.items():
            if values.dtype.kind == "i" and values.itemsize > 4:
                self.features[key] = values.astype(np.int32)

    def insert_by_sample(self, other: "Candidates") -> None:
        """Add the rows of ``other`` in place, in the order a stable sort by ``sample`` of
        the two tables' concatenation (this one first) gives.

        Built column by column, each old column let go as its merged one is made: a
        concatenation and its sorted copy would hold the table three times (issue 14).
        ``other`` is unusable after.
        """
        n = len(self) + len(other)
        order = np.argsort(np.concatenate([self.sample, other.sample]), kind="stable")
        place = np.empty(n, dtype=np.int64)
        place[order] = np.arange(n)
        del order
        mine, theirs = place[:len(self)], place[len(self):]

        def merged(a, b):
            out = np.empty((n,) + a.shape[1:], dtype=np.result_type(a, b))
            out[mine] = a
            out[theirs] = b
            return out

        for name in _COLUMNS:
            setattr(self, name, merged(getattr(self, name), getattr(other, name)))
            setattr(other, name, None)
        for key in list(self.features):
            self.features[key] = merged(self.features[key], other.features.pop(key))


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct values of a 1-D object array (in order of first appearance,
    as an object array of those objects) and each row's index among them (the smallest
    unsigned dtype). Hashing and a comparison per distinct value, not sorting: a handful
    of strings over 10^5 rows (``np.unique`` took 0.25 s a column)."""
    items = values.tolist()
    index = dict.fromkeys(items)
    distinct = np.empty(len(index), dtype=object)
    distinct[:] = list(index)
    dtype = np.min_scalar_type(max(0, len(index) - 1))
    if len(index) > _FEW_VALUES:
        for i, v in enumerate(index):  # loop over the distinct values
            index[v] = i
        return distinct, np.fromiter(map(index.__getitem__, items), dtype=dtype,
                                     count=len(items))
    codes = np.zeros(len(items), dtype=dtype)
    for i in range(1, len(index)):  # loop over the few distinct values
        codes[values == distinct[i]] = i
    return distinct, codes


#: Up to this many distinct values, :func:`_codes` compares the column with each.
_FEW_VALUES = 16


#: The per-row columns of :class:`Candidates` besides ``features``.
_COLUMNS = ("sample", "centre", "channel", "channels", "amplitude", "snr", "snip_row",
            "artifact_kind", "label", "reason", "match_score")

#: Integer columns that :meth:`Candidates.narrow_integers` holds as int32.
_INTEGER_COLUMNS = ("sample", "centre", "channel", "snip_row")

#: Recordings shorter than this (samples) hold their candidate indices as int32: the
#: largest int32 less a margin for snippet offsets around the recording's ends.
_INT32_SAMPLES = 2**31 - 2**24

#: The features :func:`to_sorted_events` writes the event table from.
EVENT_FEATURES = ("p2p", "duration_ms", "n_phases", "n_turns", "onset_offset", "length")


def describe_discharges(filt, raw, start, stop, lo, ch, idx, group, order, main, local, g,
                        band, fs, params) -> tuple[Candidates, np.ndarray]:
    """Return the block's owned candidates and their multichannel snippets (V).

    Parameters
    ----------
    filt, raw : ndarray, shape (n_channels, n_local)
        Band-passed and raw samples of the block with its margins (from ``lo``).
    start, stop : int
        The block's owned samples; only events whose main peak lies there are kept.
    ch, idx, group, order, main
        Channel peaks and their cross-channel groups
        (:func:`fascidetect.detection.merge_across_channels`).
    local : ndarray, shape (n_channels, n_segments)
        The block's noise per segment (for SNR and shape features).
    g : Geometry
    band : (float, float)
    fs : float
    params : DetectionParams
    """
    n_ch = filt.shape[0]
    main_idx = idx[order][main]
    own = (main_idx + lo >= start) & (main_idx + lo < stop)
    main, main_idx = main[own], main_idx[own]
    main_ch = ch[order][main]
    n_ev = main.size
    seg = np.clip((main_idx + lo - start) // g.segment, 0, local.shape[1] - 1)
    ev_sigma = local[main_ch, seg]
    # Channel membership: which channels had a peak in each owned group.
    mask = np.zeros((n_ev, n_ch), dtype=bool)
    gid_to_row = np.full(int(group.max()) + 1 if group.size else 0, -1)
    gid_to_row[group[main]] = np.arange(n_ev)
    rows = gid_to_row[group] if group.size else group
    sel = rows >= 0
    mask[rows[sel], ch[order][sel]] = True

    # Centre snippets on the main channel's energy centroid: the larger lobe of a
    # biphasic potential flips with noise, its centre of energy does not.
    first_cut = _features.cut_channel_snippets(filt, main_ch, main_idx, g.half)
    centre = main_idx + _features.energy_centroid_offset(first_cut)
    # Sample-major (channel, sample, event): the peak to peak below reduces along rows.
    by_sample = _features.cut_snippets_by_sample(filt, centre, g.half)
    snips = np.moveaxis(by_sample, 2, 0)  # (event, channel, sample) view
    main_snip = snips[np.arange(n_ev), main_ch] if n_ev else np.zeros((0, 2 * g.half + 1))
    wf = _features.waveform_features(main_snip, ev_sigma, fs, params.delimit_sigma,
                                     params.delimit_fraction)
    raw_main = _features.cut_channel_snippets(raw, main_ch, main_idx, g.art_half)
    af = _features.artifact_features(raw_main, fs, band[0])
    # The raw samples' noise floor per segment, for the glitch test (a few samples beside
    # one event cannot tell it: their median varies by a factor 2 either way).
    step_floor = _noise.segment_floors(
        lambda i0, i1: _noise.step_window_sigmas(raw, start - lo + i0, start - lo + i1, g.noise_win),
        stop - start, g.noise_win, g.segment, params.noise_percentile)
    af.update(_glitches.spike_features(raw_main, fs, noise_sigma=step_floor[main_ch, seg]))
    peak_abs = np.abs(filt[main_ch, main_idx])
    # How evenly the event spreads: a unit's footprint decays away from its main channel,
    # a common-mode artifact (ECG, motion) is similar everywhere.
    ch_p2p = (by_sample.max(axis=1) - by_sample.min(axis=1)).T  # np.ptp, sample-major
    evenness = np.median(ch_p2p, axis=1) / np.maximum(ch_p2p.max(axis=1), np.finfo(float).tiny) \
        if n_ev else np.zeros(0)
    cands = Candidates(
        sample=main_idx + lo, centre=centre + lo, channel=main_ch, channels=mask,
        amplitude=filt[main_ch, main_idx],
        snr=peak_abs / np.where(ev_sigma > 0, ev_sigma, np.inf),
        features={**{k: np.asarray(v) for k, v in wf.items()}, **af, "evenness": evenness},
        snip_row=np.full(n_ev, -1, dtype=np.int64))
    return cands, snips


def to_sorted_events(cands: Candidates, names, sfreq: float, half: int, isolated: np.ndarray,
                     doublet=None, doublet_interval_ms=None,
                     episodes: np.ndarray | None = None,
                     time_at_centre: bool = False) -> tuple[CodedEvents, np.ndarray]:
    """Return the event rows of every candidate not labelled ``excluded`` and the
    ``episodes`` rows in one table sorted as :func:`fascidetect.events.sort_events` sorts
    their concatenation, and the row each discharge (in candidate order) took in it.

    ``half`` is the snippets' half length (onsets are measured from the snippet start);
    ``isolated``, ``doublet`` and ``doublet_interval_ms`` are per candidate
    (:func:`fascidetect.stages.fasciculation.doublets`). With ``time_at_centre`` the
    ``peak_time`` is the main channel's energy centroid (``centre``) instead of the
    largest sample: at rates where a potential's phases are one sample each, which of
    two near-equal lobes is the larger is a matter of noise, its centre is not.

    Each column is made whole, every row in its sorted place, and written before the
    next (to a temporary file once the table passes :data:`_SPILL_MIN_BYTES`): the
    discharge table, its concatenation with the episodes and a sorted copy would hold the
    table up to three times, and a day's coded table alone is 20 MB (issue 14: it is the
    one result that grows with the recording). The table is a
    :class:`fascidetect.events.CodedEvents` (text columns as codes); its
    :meth:`~fascidetect.events.CodedEvents.materialise` is the :data:`EVENT_DTYPE` table.
    """
    if episodes is None:
        episodes = empty_events(0)
    sel = np.flatnonzero(cands.label != "excluded")
    n = sel.size
    onset = _onsets(cands, sel, sfreq, half)
    at = (cands.centre if time_at_centre else cands.sample)[sel] / sfreq
    order = np.lexsort((np.concatenate([at, episodes["peak_time"]]),
                        np.concatenate([onset, episodes["onset"]])))
    place = np.empty(order.size, dtype=np.int64)
    place[order] = np.arange(order.size)
    del order
    # The text columns as codes (issue 14: 224 of an event row's 334 bytes).
    labels = set(cands.label[sel].tolist())
    reasons = set(cands.reason[sel].tolist())
    artifact_reasons = set(cands.reason[sel][cands.label[sel] == "artifact"].tolist())
    vocabulary = {
        "trial_type": sorted(labels | set(episodes["trial_type"].tolist())),
        "reason": sorted(reasons | set(episodes["reason"].tolist())),
        "artifact_kind": sorted(artifact_reasons | set(episodes["artifact_kind"].tolist())),
    }
    categories = CodedEvents.categories_of(vocabulary)
    name_arr = np.asarray(names, dtype=object)
    sets, set_codes = _channel_sets(cands.channels[sel], name_arr)
    categories["channel"] = np.array([""] + _new_strings(list(names), episodes["channel"]),
                                     dtype=object)
    categories["channels"] = np.array([""] + _new_strings(sets, episodes["channels"]),
                                      dtype=object)
    rows = place[:n]
    ep_rows = place[n:]
    ev = CodedEvents({}, categories, place.size)
    if ev.nbytes > _SPILL_MIN_BYTES:
        ev.spill()  # each column goes to the file as it is made (issue 14: 20 MB a day)
    name_codes = ev.encode("channel", name_arr) if name_arr.size else np.zeros(0, np.intp)
    values = _event_values(cands, sel, onset, at, sfreq, isolated, doublet,
                           doublet_interval_ms, name_codes, set_codes)
    for name in COLUMN_NAMES:  # one whole column at a time: episode rows, then discharges
        coded = name in categories
        column = np.zeros(place.size, CodedEvents.code_dtype(categories[name])) if coded \
            else _missing(name, place.size)
        column[ep_rows] = ev.encode(name, episodes[name]) if coded else episodes[name]
        if n:
            part = values(name, ev)
            if part is not None:
                column[rows] = part
        ev.columns[name] = column
        del column
    return ev, rows


#: Event tables up to this size are held in memory: a spilled one holds an open
#: temporary file as long as the result does (see :data:`fascidetect.assemble.
#: _SPILL_MIN_BYTES`).
_SPILL_MIN_BYTES = 2 ** 20


def _new_strings(first: list, more) -> list:
    """Return the strings of ``first`` then those of ``more`` not among them (no "")."""
    out = dict.fromkeys(v for v in first if v != "")
    out.update(dict.fromkeys(v for v in more.tolist() if v != ""))
    return list(out)


def _channel_sets(masks: np.ndarray, name_arr: np.ndarray) -> tuple[list, np.ndarray]:
    """Return the distinct channel sets of ``masks`` (rows of channel membership) as
    comma-joined names, in order of first appearance without the empty set, and each
    row's code among them (1 + its index; 0 for no channel)."""
    n = masks.shape[0]
    if n == 0:
        return [], np.zeros(0, np.intp)
    packed = np.packbits(masks, axis=1)
    key = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    texts = [",".join(name_arr[masks[i]]) for i in first.tolist()]
    lookup, sets = {}, []
    code_of = np.empty(uniq.size, np.intp)
    for j in np.argsort(first, kind="stable").tolist():  # distinct sets, by first row
        text = texts[j]
        if text == "":
            code_of[j] = 0
            continue
        if text not in lookup:
            sets.append(text)
            lookup[text] = len(sets)
        code_of[j] = lookup[text]
    return sets, code_of[inverse.ravel()]


def _onsets(cands: Candidates, sel: np.ndarray, sfreq: float, half: int) -> np.ndarray:
    """Return the onsets (s, at least 0) of the candidates ``sel``."""
    onset = (cands.centre[sel] + cands.features["onset_offset"][sel] - half) / sfreq
    return np.maximum(0.0, onset)


def _event_values(cands, sel, onset, at, sfreq, isolated, doublet, doublet_interval_ms,
                  name_codes, set_codes):
    """Return ``values(name, ev)``: the event column ``name`` of the candidates ``sel``
    (codes into ``ev``'s categories for text), or None where they leave it missing.

    ``name_codes`` are the channels' codes in the ``channel`` categories, ``set_codes``
    the rows' codes in the ``channels`` ones (:func:`_channel_sets`: the distinct sets
    come first there, after ``""``).
    """
    f = cands.features
    label = cands.label[sel]

    def values(name, ev):
        if name == "peak_time":
            return at
        if name == "onset":
            return onset
        if name == "duration":
            return f["length"][sel] / sfreq
        if name == "trial_type":
            return ev.encode(name, label)
        if name == "channel":
            return name_codes[cands.channel[sel]]
        if name == "channels":
            return set_codes
        if name == "peak_amplitude_uv":
            return f["p2p"][sel] * 1e6
        if name in ("duration_ms", "n_phases", "n_turns"):
            return f[name][sel]
        if name == "snr":
            return cands.snr[sel]
        if name == "isolated":
            return isolated[sel]
        if name == "artifact_kind":  # object: shared strings
            return ev.encode(name, np.where(label == "artifact", cands.reason[sel], ""))
        if name == "reason":
            return ev.encode(name, cands.reason[sel])
        if name == "match_score":
            return cands.match_score[sel]
        if doublet is not None and name == "doublet":
            return np.where(label == "fasciculation", doublet[sel], 0)
        if doublet is not None and name == "doublet_interval_ms":
            return doublet_interval_ms[sel]
        return None

    return values
