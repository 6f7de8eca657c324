"""Every tunable number of the detector, in one documented dataclass.

Defaults and their sources are in ``docs``/``../shared/docs/domain.md``; numbers marked
(est.) there are our own estimates and are exposed here so users can change them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from .errors import ParameterError

_NOTCH_OPTIONS = ("auto", "50", "60", "off")
_HIGHPASS_MODES = ("standard", "ecg")


@dataclasses.dataclass(frozen=True)
class DetectionParams:
    """Parameters of :func:`fascidetect.detect`.

    Parameters
    ----------
    band_low_hz : float
        High-pass corner of the band-pass, Hz. 20 Hz per SENIAM / De Luca et al. 2010.
    band_high_hz : float
        Low-pass corner, Hz; capped at ``max_band_fraction * sfreq`` (0.45 fs).
    highpass_mode : {"standard", "ecg"}
        ``"ecg"`` raises the high-pass to ``ecg_band_low_hz`` (30 Hz) for trunk and
        proximal muscles with ECG contamination (Drake & Callaghan 2006).
    filter_order : int
        Butterworth order of each band edge (4 -> an 8th-order band-pass as SOS).
    notch : {"auto", "50", "60", "off"}
        Power-line handling. ``"auto"`` finds 50 or 60 Hz hum in the spectrum and notches
        the fundamental and only the harmonics that stand out (a comb of notches at every
        harmonic rings after each discharge and creates false echoes).
    line_removal : {"regression", "notch"}
        How found hum is removed: ``"regression"`` subtracts fitted sinusoids at the exact
        line frequency and prominent harmonics in 1-s windows (no ringing);
        ``"notch"`` applies IIR notches (Q ``notch_q``), which ring after large discharges.
    notch_q : float
        Quality factor of each notch (Q ~30: about 2 Hz wide at 50/60 Hz).
    line_mask_sigma : float
        Samples whose residual exceeds this many robust sigmas (discharges) are left out of
        the hum fit, widened by ``line_mask_dilate_ms``.
    line_mask_dilate_ms : float
        See ``line_mask_sigma``.
    line_max_harmonic : int
        Highest harmonic of the line frequency considered.
    line_ratio_db : float
        How far a line peak must stand above the neighbouring spectrum to count as hum.
    threshold_sigma : float
        Detection threshold in robust noise sigmas (Quiroga 2004: 4-6; default 5).
    artifact_sigma : float
        Discharges larger than this many sigmas are flagged as artifacts (est. ~50).
    dead_time_ms : float
        Minimum spacing of two discharges on one channel. Must stay well under the 30 ms
        of paired discharges (Kleine et al. 2012) and let doublets 5-20 ms apart through:
        8 ms (5 ms let the later phases of one potential through as new discharges).
    doublet_max_ms : float
        A fasciculation this soon after the previous one on its channel, like it in
        amplitude and polarity, is the later discharge of a doublet or multiplet of one
        unit (domain: 5-20 ms; Kleine et al. 2012).
    doublet_amplitude_ratio : float
        How far the two peaks of a doublet may differ (a factor either way).
    shadow_ms : float
        Around a large discharge, smaller peaks within this time that are below
        ``shadow_fraction`` of it are filter ringing or the potential's own later phases,
        not new discharges. Judged per channel, on that channel's own samples, for the
        scan's peaks and for template matches alike (a potential largest on another
        channel rings on this one too).
    shadow_fraction : float
        See ``shadow_ms``. 0.35: the late phase of a 15-20 ms potential can reach
        0.25-0.33 of its main peak 8-10 ms later (simulator tuning seeds 0-2: false
        fasciculations beside activity 0.50 -> 0.34/min, 64-ch grid 2.7 -> 1.5/min, no
        row's recall lower; 0.45 began to lose discharges).
    phase_ms, phase_fraction : float
        A peak of the other polarity within ``phase_ms`` of a larger one and below
        ``phase_fraction`` of it is that potential's other phase: a biphasic potential of
        15-20 ms has its phases 8-10 ms apart, past the dead time. A doublet's second
        discharge keeps the first's polarity and is never removed by this (tuning seeds
        0-2, ECG on 1-2 channels: 2.05 -> 0.17 false fasciculations/min; no row lower;
        ``phase_ms=0`` switches it off). 0.85 was tried: a unit whose first phase is 0.7
        of its second is counted twice at 0.6 (tuning seeds 6-17, doublets: 2.26 -> 0.42
        false/min), but in the 125-Hz BDF sleep record it thinned a 0.1-s chin burst
        below the cluster test and gave 5 fasciculations in 100 ms.
    merge_ms : float
        Peaks on different channels within this time are one discharge.
    merge_loose_ms : float
        A weaker peak on another channel up to this far (< half the size of its neighbour;
        15 ms covers propagation across an HD grid)
        is the same discharge seen elsewhere (propagation, changed shape).
    snippet_ms : float
        Length of the waveform cut around each discharge (centred on the peak).
    noise_window_s : float
        Window of the robust noise estimate (2-5 s) so bursts do not inflate it.
    noise_percentile : float
        Which percentile of the per-window sigmas is the channel's noise: a low one, so a
        recording that is mostly bursts still gets its floor.
    isolation_interval_s : float
        Intervals to the previous and next discharge both above this -> ``isolated``
        (Sleutjes et al. 2016: 250 ms).
    cluster_p_value : float
        Discharges in a window of 2 x ``isolation_interval_s`` that holds more discharges
        than a Poisson law at the channel's own rate allows (tail probability below this)
        are a firing train or burst, not fasciculations.
    cluster_min_discharges : int
        Fewest discharges in such a window that make a firing cluster: fasciculating
        units fire doublets and multiplets of 2-5 discharges (Kleine et al. 2012), which
        are fasciculations however unlikely under a Poisson law.
    max_fasciculation_rate_per_min : float
        Highest plausible sporadic rate on one channel (est.; ALS cohorts: median ~40/min
        per muscle). Channels firing faster are judged as continual firing.
    burst_active_windows : int
        A discharge with at least this many active envelope sub-windows on its channel
        within +/- ``isolation_interval_s`` that no detected discharge explains sits in
        ongoing (brief or voluntary) firing too small to cross the threshold.
    widespread_fraction : float
        On montages of separate muscles (no ``layout``, 4 to 16 channels), a
        discharge seen at once on this share of channels is not one motor unit's localized
        twitch: it is marked as a widespread artifact unless it is ECG.
    edge_guard_s : float
        Time at each end of the recording (and of gaps) not analysed: amplifier settling
        and filter edges.
    activity_window_ms : float
        Length of the sub-windows of the RMS envelope used to find sustained activity.
    activity_sigma : float
        A sub-window is active when its RMS exceeds this many noise sigmas.
    activity_fraction : float
        Share of active sub-windows within ``spasm_min_duration_s`` that makes the span
        sustained activity.
    spasm_min_duration_s : float
        Shortest sustained elevation called a spasm (domain: about 1 s to minutes).
    spasm_min_channels : int
        Channels that must be active at once (at least 2: a spasm is a muscle group's;
        one channel shows sustained activity, reported as voluntary).
    episode_margin_s : float
        Discharges this close to a spasm or voluntary episode belong to it.
    motion_range_factor : float
        A 200-ms stretch whose raw range exceeds this many times the channel's usual range
        (and is mostly out of band), on at least half of the channels at once, is a motion
        artifact (est.).
    voluntary_labels : tuple of str
        Annotation labels (case-insensitive substrings) marking voluntary-task periods,
        which are excluded from fasciculation counting.
    ecg_min_channel_fraction : float
        A discharge seen at once on at least this share of channels (and at least 3) is
        a candidate ECG/common-mode artifact.
    ecg_rr_range_s : tuple of float
        Heart-period range searched for quasi-periodic common events (0.4-1.5 s).
    ecg_channel_search : bool
        When no heart rhythm is found on the threshold crossings, search channels with
        at least 2 beat-like candidates a minute for a heart rhythm under the threshold
        (a wide average beat matched on the channel; :mod:`fascidetect.ecg_channel`) and
        subtract the ECG it times, as ``ecg_subtraction`` does.
    ecg_subtraction : bool
        When a heart rhythm is found, subtract an average beat per channel (scaled to each
        beat) and detect again, so QRS lobes do not pass for discharges and fasciculations
        that overlap a beat are kept.
    layout : tuple of int | None
        ``(rows, cols)`` of an electrode array, channels in row-major order: an HD grid
        (``(8, 8)``) or a linear array (``(1, 8)``). Peaks merge into one discharge only
        on electrodes within ``neighbour_radius`` of each other, and the spread of a
        discharge over the array is a motor unit's footprint, never a ``widespread``
        artifact. A grid name (``"GR08MM1305"``, ``"GR04MM1305"``: OT Bioelettronica's
        13 x 5 grids, one corner empty) places channels 1-64 in the maker's order
        (:mod:`fascidetect.grids`). ``None``: positions unknown (every channel may join
        every other).
    layout_missing : tuple of int
        Electrodes of ``layout`` with no analysed channel: a dead electrode, or a channel
        marked ``bad`` (a BIDS dataset's bad channels of a declared grid fill this in).
        1-based numbers in the layout's channel order (row-major for ``(rows, cols)``, the
        maker's order for a named grid); the analysed channels fill the other positions
        in order. On the command line: ``--param layout_missing=12,40``. Neighbourhood
        detection counts a missing electrode as silent (conservative).
    muscles : str | dict | sequence | None
        Which muscle each channel records: ``"auto"`` (the muscles the channel names
        name, ``"EMG TA_R"``), a map ``"1=TA_R,2=TA_R,3=GAS_R"`` (1-based channel numbers
        or names; or a TSV path with columns ``channel`` and ``muscle``), or one label per
        EMG channel. Different muscles never share a discharge (units of neighbouring
        muscles may fire a few ms apart); the ``widespread`` test counts muscles. ``None``:
        unknown (as without a layout).
    neighbour_radius : float
        On a ``layout``, electrodes this close (in inter-electrode distances: 3 takes in
        three electrodes on each side along a linear array, and a disc of 7 electrodes
        across on a grid; a surface footprint spans 1.5-4 electrodes at 5-10 mm) are
        neighbours whose near-simultaneous peaks are one discharge.
    propagation_ms : float
        On a linear array (``layout=(1, n)``, laid along the fibres), neighbouring
        electrodes' peaks chain up to ``merge_ms`` plus this much per electrode of
        distance apart: a potential travels along the fibres at 3-5 m/s, 1-3 ms per
        5-10 mm electrode spacing, and its largest phase can change on the way (on a grid
        the fibre direction is not known, and a wider window merges overlapping units).
    join_radius : float
        On a ``layout``, a weaker peak group up to ``merge_loose_ms`` later joins a larger
        one only within this many electrodes of its channels (propagation, the other
        lobe of the same potential); farther away it is another unit's discharge.
    echo_ms : float
        On a declared montage, a weaker peak group of the same muscle or array under
        ``shadow_fraction`` of a larger one within this time of it is the larger one's
        late phase seen on other electrodes (a surface potential lasts up to 20 ms).
    crosstalk_ms : float
        Largest lag of crosstalk: volume conduction carries a potential to a neighbouring
        muscle's electrodes almost at once.
    crosstalk_window_ms : float
        Window around a discharge's peak on which another muscle's weaker peak (under
        half of it, within ``merge_loose_ms``) is compared with it.
    crosstalk_corr : float
        Correlation (at a lag up to ``crosstalk_ms``) at and above which that weaker peak
        is the discharge's crosstalk, not a discharge of the other muscle (its own unit
        has its own shape and timing; est.).
    chunk_s : float
        Longest processing block, s; long recordings are processed block by block. Blocks
        are whole 20-s noise segments (10 noise windows), so a block is never shorter than
        one segment, and very wide recordings (over ~100 channels at 2 kHz) hold one
        segment of all channels at a time.
    min_rest_s : float
        Below this much analysed rest, "no fasciculations" means little
        (Jahanmiri-Nezhad et al. 2012: about 2 minutes).
    min_recording_s : float
        Shortest recording analysed: filtering and a noise estimate need about a second.
    shape_min_sfreq_hz : float
        Below this sampling rate a warning says that waveform shape features (duration,
        phases, turns) are unreliable (domain: >= 1 kHz for waveform features), and
        ``phase_span_ms`` applies.
    phase_span_ms : float
        Where a sample period is longer than ``one_sample_phase_ms``, peaks on one
        channel within this time plus one sample period of a larger one are that
        potential's other phases, whatever their size and polarity: a surface potential
        lasts up to 20 ms (domain: 5-20 ms), so its phases lie at most that far apart,
        and each phase's sampled peak may sit up to a sample off. There each phase is one
        sample, and in a band that ends at 0.45 fs (56 Hz at 125 Hz) a biphasic
        potential becomes two lobes of nearly equal size 2 samples apart: no shape tells
        them from a doublet, and the ``phase_fraction`` ratio does not hold (simulated
        125-Hz board, tuning seeds 0-11: 184 of 204 false fasciculations were such lobes
        8-24 ms from the potential's other lobe). Discharges of one channel closer than
        this are counted once there (125 Hz: 3 samples, 24 ms); the doublet share counts
        only doublets beyond it. 0 switches it off.
    one_sample_phase_ms : float
        A phase of a typical surface potential: half of a 10-ms biphasic one (domain:
        5-20 ms). ``phase_span_ms`` applies where the sample period is longer (under
        200 Hz: Cyton+Daisy's 125 Hz), not at 200-250 Hz, where a phase spans a sample
        or more and the phase rule still holds: there the span (25 and 24 ms) removed
        0.1-0.6 false fasciculations per minute on tuning seeds 0-11 but merged true
        discharges 20-25 ms apart and, through the firing-cluster weights, turned
        multiplets into clusters (F1 -0.003 real S02 background, -0.005 250-Hz board).
    cross_phase_min_period_ms : float
        Where the sample period is at least this long (250 Hz and under), two peak
        groups on different channels within ``phase_ms`` of opposite polarities, each
        channel holding the other's polarity at the other's peak at ``phase_fraction`` or
        more of its own, are one potential whose two lobes the channels rank differently
        (:func:`fascidetect.detection.merge_across_channels`). Independent simulator,
        exploration seeds 1000-1015 at 200 / 250 Hz: 139 / 59 of the 202 / 111 false
        fasciculations were such pairs, 2 samples apart. 0 switches it off.
    filter_margin_s : float
        Samples read on each side of a processing block so the zero-phase filter's
        transient (3 periods of the 20-Hz high-pass = 0.15 s, and the line fit's window)
        settles before the block's own samples.
    noise_segment_windows : int
        Noise windows per segment of the local noise grid (10 x 2 s = 20 s): thresholds
        follow electrode noise that drifts over a long recording on this grid.
    noise_drift_max : float
        Largest rise of a segment's noise over the recording's floor taken as drift; the
        cap keeps a spasm filling a segment from raising its own threshold (est.).
    burst_edge_s : float
        Discharges this close to a firing-train member on their channel belong to the
        train: the sparse recruitment and derecruitment edges of a burst (est.).
    artifact_window_ms : float
        Raw-signal window around each discharge on which low-frequency content, steps
        and flat tops are judged (motion, pops, saturation).
    motion_window_ms : float
        Window of the raw range and RMS on which motion spans are judged.
    motion_out_of_band : float
        A raw swing more than this many times the band-passed swing of its window is
        mostly out of band (motion moves the electrodes; discharges are in band).
    motion_lf_ratio : float
        Out-of-band (below the high-pass) to in-band energy ratio above which a large or
        widespread transient is motion (domain: motion energy < 20 Hz; est.).
    pop_step_ratio : float
        Step height, as a share of the raw window's range, of an electrode pop (est.).
    pop_lf_ratio : float
        Low-frequency ratio a one-channel step needs to be a pop (est.).
    pop_jump_ratio : float
        Share of the event's own range that the level must jump at the event, net of
        the baseline's slope, for a pop (``jump_ratio`` of
        :func:`fascidetect.features.artifact_features`). Simulated pops: 0.75-1.0 at the
        step; small potentials on the steep 1/f wander of a 200-Hz board: 0.0-0.31
        (tuning seeds 0-17 of the glitch row, where such potentials were pops).
    saturation_flat_samples : int
        Samples at the same extreme value (a flat top) that mark clipping.
    glitch_max_neighbour_ratio : float
        A single-sample glitch: the raw samples within 10 ms of the peak deviate from the
        local baseline (a line through the samples 20-40 ms either side) by less than
        this share of the peak (:mod:`fascidetect.glitches`).
    glitch_noise_sigmas : float
        ... or by less than this many noise sigmas of the raw samples (their channel's
        floor over the noise segment, from second differences), up to 0.4 of the peak:
        the largest of a glitch's 4 neighbours passes 3.5 sigmas in about 1 % of the
        simulator's glitches far from any discharge (tuning seeds 0-17 of the 200-Hz
        board; 2.5 sigmas in 13 %). Such a candidate is a glitch only on a channel seen
        to glitch (``glitch_sign_evidence``).
    glitch_sign_evidence : int
        Clear lone samples (neighbours under ``glitch_max_neighbour_ratio``) of the
        other polarity a channel needs before a candidate whose neighbours only noise
        sigmas explain is a glitch: a data error has no sign, the one-sample-wide
        potentials of a small unit have their unit's (tuning seeds 0-17: the
        real-background rows keep 8 true discharges that 2.5 sigmas of a local noise
        estimate made glitches). One of the other polarity is enough beside this many
        of the candidate's own polarity that no unit vouches for: the channel glitches
        in both signs, and chance gave one sign few (a 2-minute record holds 5-15
        glitches a channel; tuning seeds 0-17 and 300-311 of the 200-Hz board: 5 false
        fasciculations fewer, 2 true discharges lost).
    glitch_min_height_sigmas : float
        A glitch stands this many baseline noise sigmas out of a quiet background (none
        is judged inside an interference pattern).
    glitch_min_area : float
        Net raw area (within 10 ms, over the local baseline) in units of the peak sample a
        glitch needs: a lone sample about 1; 0 asks only that the area have the peak's
        sign (0.4 before the local baseline; tuning seeds 0-17: 3.5 -> 3.0 false per
        minute, the real-background rows equal).
    glitch_unit_min_neighbour_ratio, glitch_unit_max_neighbour_ratio : float
        A lone sample stays a discharge when candidates of its channel that sample narrow
        (a neighbour ratio over the noise's and the first, under the second) ...
    glitch_unit_amplitude_tolerance : float
        ... match its polarity and its size within this share ...
    glitch_unit_min_matches : int
        ... at least this many times: the unit's potential was sampled narrow (est.) ...
    glitch_unit_lone_share : float
        ... and the lone samples of that size number at most this share of those
        matches: more are a glitch train, not the unit (tuning seeds 0-17 of the 200-Hz
        board: 0.5 keeps the real-background rows' true lone samples; glitches beside a
        unit of their size were all rescued before) ...
    glitch_unit_lone_excess : float
        ... or at least this share of them are in excess over the lone samples of the
        other polarity and that size: a data error has no preferred sign, a unit's
        one-sample-wide potentials have (a glitch-sized unit with brief potentials on
        tuning seed 9 lost 10 of its discharges to the share test alone).
    glitch_unit_template_sigmas : float
        ... and only when the lone sample's neighbours follow the unit's template (the
        shape beside the peak of one of those narrow samples, each the unit sampled at
        one phase, fitted with a free scale) by more than this many noise sigmas: a
        glitch's neighbours are noise (about N(0, 1) along any direction), a unit's
        one-sample-wide potential keeps a trace of its other phase (tuning seeds 0-17
        and 300-311 of the 200-Hz board, the lone samples the counting rules rescue:
        true discharges' median 2.7 sigmas, glitches' 0.4).
    glitch_unit_template_override_sigmas : float
        A lone sample whose neighbours follow a unit's template by this many noise
        sigmas is that unit's even where the counting rules above say the channel
        glitches at that size.
    glitch_shape_min_cosine : float
        On a channel seen to glitch (``glitch_sign_evidence``), a candidate whose
        neighbours stand at a quarter to ``glitch_unit_max_neighbour_ratio`` of its peak
        is a glitch (its neighbours lifted by noise or wander) when its shape beside the
        peak follows none of its siblings' by this cosine: candidates of its channel,
        polarity and size (``glitch_unit_amplitude_tolerance``) with neighbours from a
        quarter of the peak to ``glitch_sibling_max_neighbour_ratio``. A unit fires
        again, and its sampled shapes repeat (tuning seeds 0-17 and 300-311 of the
        200-Hz board: true discharges' best cosine median 0.97, such glitches' 0.41;
        -1 turns the test off).
    glitch_sibling_max_neighbour_ratio : float
        See ``glitch_shape_min_cosine``.
    glitch_template_neighbours : int
        The template and shape tests try the shapes of at most this many candidates of
        the channel and polarity before and as many after (in time): the best of more
        would follow noise the better the longer the recording (tuning seeds of the
        200-Hz board, 2 minutes: 32 finds what all do; 16 loses 5 true discharges, 8
        loses 25).
    electrode : {"auto", "surface", "needle"}
        How the EMG was picked up. ``"auto"`` reads it from the file (transducer fields,
        header comments, channel names: "needle", "concentric"...), else surface.
    needle_max_p2p_uv : float
        Peak-to-peak beyond any needle motor-unit potential, µV: neurogenic (reinnervated)
        units reach 10-20 mV at the needle, so the surface limit would discard them.
    max_fasciculation_p2p_uv : float
        Peak-to-peak beyond any surface fasciculation, µV: larger discharges are ``large``
        artifacts (domain: surface ~20-300 µV; needle up to 3.6 mV).
    even_spread : float
        Median over maximum channel amplitude above which an event is evenly spread
        (common mode: ECG, motion), not one unit's decaying footprint (est.).
    max_separate_muscles : int
        Without a ``layout``, montages of 4 up to this many channels are taken as separate
        muscles (the ``widespread`` test); more channels are taken as a dense array.
    ecg_rr_tolerance : float
        Successive heart intervals must agree within this share of each other.
    ecg_min_beats : int
        Shortest chain of regular beats that counts as a heart rhythm on common events
        (two more on a single channel, where "common" cannot be judged).
    ecg_min_coverage : float
        Share of the beats expected over the recording at the found rhythm that must be
        present before the rhythm counts as a heart (a busy irregular unit aligns by
        chance only now and then).
    ecg_channel_min_beats : int
        Fewest beats of a heart rhythm found on one channel: long, since a heart beats on
        and on while a fasciculating unit lines up at heart-rate intervals only by chance
        and briefly.
    ecg_channel_max_cv : float
        Largest interval CV of a heart rhythm found on one channel (beat-to-beat heart
        rate varies by a few per cent; est.).
    ecg_channel_min_coverage : float
        Share of the recording's expected beats a channel's rhythm must hold (beats under
        the threshold are missed, so less than ``ecg_min_coverage``).
    ecg_min_lf_ratio : float
        Low-frequency ratio (``lf_ratio``: raw energy below the band over energy in it) a
        discharge needs to take part in a one-channel heart rhythm: ECG energy lies
        below 50 Hz with P and T waves below 10 Hz, a motor-unit potential's at 50-150 Hz
        (est.).
    ecg_model_min_beats : int
        Fewer beats than this: no ECG model (nothing periodic enough to average).
    ecg_half_window_s : float
        Half-length of the subtracted beat: the QRS complex and the steep part of the T
        wave.
    ecg_search_s : float
        Each beat is re-anchored on the template within this distance.
    ecg_gain_range : tuple of float
        Per-beat gain limits of the subtracted template (the ECG amplitude breathes with
        respiration, within reason).
    ecg_beat_s : float
        Events closer than this are one heart beat (QRS about 80-120 ms).
    ecg_match_core_s : float
        Half-width of the template's QRS core (around its anchor) that every beat is
        searched for with; the whole 0.24-s window would drown a small QRS in noise.
    ecg_match_min_corr : float
        Normalised correlation of the data with that core from which a beat is taken
        (noise and fasciculations stay under about 0.4; beats at 5 sigma reach 0.45-0.9).
    ecg_match_min_rr_share : float
        Two beats are at least this share of the median RR interval apart.
    rate_bin_s : float
        Bins of the burst-robust background-rate estimate of the firing-cluster test.
    rate_trim : float
        Share of the busiest bins left out of that estimate.
    min_unit_discharges : int
        Motor-unit clusters with fewer discharges stay unassigned (``unit`` -1).
    max_waveforms : int
        Most candidate discharges whose multichannel snippets are kept for waveforms and
        motor-unit templates (a uniform sample beyond that; bounds memory).
    delimit_sigma : float
        A potential's extent ends where it falls under this many noise sigmas ...
    delimit_fraction : float
        ... or this share of its peak ("detect high, delimit low": Jahanmiri-Nezhad et
        al. 2014).
    rest_window_s : float
        Window on which a channel's background is judged at rest or active (1 s keeps the
        threshold near 1.3x the floor even at 200 Hz; see :mod:`fascidetect.rest`).
    rest_trim_fraction : float
        0 (default): the samples within ``snippet_ms / 2`` of every detected peak are left
        out of the window's RMS, so sparse discharges, however large, do not make a
        window active while an interference pattern does. Above 0: the share of each
        window's largest samples left out instead (no use of the detected peaks).
    rest_z : float
        Threshold of the background ratio in standard deviations of its spread under
        noise alone (2BT effective samples of band-limited noise).
    rest_min_excess : float
        Smallest rise of the background over the floor that counts as activity (slow
        drift of real electrode noise; est.).
    rest_max_shape_share : float
        A background rise whose energy sits as high in the band as the noise floor's (its
        difference share at least this share of the floor's) is rising electrode noise,
        not muscle activity (surface EMG has its energy at about 60-120 Hz; est.).
    rest_shape_z : float
        A rise is activity by its shape only when its difference share, pooled with the
        rises of the neighbouring windows (:func:`fascidetect.rest.pooled_noise_like`), is
        below ``rest_max_shape_share`` by more than this many standard errors. Pooling
        alone (0) takes a 1.2x drift of a 1/f floor from 7-11 % of its windows active to
        0-4 % and keeps a low-level interference pattern as active as one window's share
        did; 0.5-1 called high-frequency interference patterns rest (benchmarks/README.md,
        drift29).
    local_noise_z : float
        A threshold candidate (not a template match) under ``threshold_sigma`` of its 1-s
        rest window's background is ``excluded`` (reason ``below_local_noise``) where that
        background has risen over its noise segment's by more than this many of its
        sampling spreads (:mod:`fascidetect.stages.local_noise`): noise peaks under a floor
        that rises faster than the 20-s segments follow. 3 covers the bias of the segment's
        reference (its 10th-percentile window); 1 cost the project's stationary low-SNR
        and 125-250 Hz rows 1-3 recall points (benchmarks/README.md, noise29). 0 switches
        it off.
    rest_shape_min_band_hz : float
        The spectral test needs the band to reach this high (fs >= about 670 Hz); below,
        a rise of the background is judged by its tails instead (``rest_tail_*``).
    rest_tail_z : float
        Under ``rest_shape_min_band_hz``: a rise is activity only when its excess kurtosis,
        pooled with the rises of the neighbouring windows, is above that of Gaussian noise
        by more than this many standard errors (:func:`fascidetect.rest.tail_scores`;
        sub-threshold units make the background heavy-tailed, a drifting electrode floor
        is Gaussian). On independent-simulator exploration windows at 200-500 Hz, 2
        called 90-93 % of the drifted floor's rises (over the threshold) rest, and 23-40 %
        of tonic firing's under 1.6x, before the join (benchmarks/README.md, rest31).
    rest_tail_max_ratio : float
        ... and only a rise up to this ratio: above it a background is activity whatever its
        distribution (a dense interference pattern is Gaussian too; a drifting electrode
        floor is taken to stay within about 1.6x its 10th-percentile floor; est.). Under
        1 switches the tail test off.
    rest_tail_join_s : float
        A rise above the hysteresis level, even one that the tail test calls noise, is
        active within this long of an active run (:func:`fascidetect.rest.with_hysteresis`,
        ``noise_joins``): one window's kurtosis is noisy at 200-250 Hz, and the Gaussian-
        looking windows at a real burst's edges (Ganglion task runs S02/S05 R0, Cyton jaw
        clench) are its recruitment and derecruitment tails (about 0.5-2 s; domain.md).
        1 s let 4 and 2 discharges inside those bursts become fasciculations; joining
        without limit (a whole drifted run beside a tonic stretch) lost a quarter of the
        gain at 500 Hz (benchmarks/README.md, rest31).
    rest_guard_s : float
        A discharge this close to an active rest window of its channel is not at rest
        (the fixed window grid would otherwise cut bursts and derecruitment tails).
    flat_ratio : float
        A rest window whose background is under this share of the channel's floor carries
        no signal (disconnected, zero-filled): it is neither rest nor activity.
    flat_max_sigma_uv : float
        A channel whose noise floor is under this (µV) is flat: a constant or railed
        signal leaves only floating-point residue after the band-pass.
    rest_hysteresis : float
        Windows next to an active run whose excess reaches this share of the threshold's
        excess join the run (recruitment and derecruitment tails; "detect high, delimit
        low").
    derecruitment_gap_s : float
        After an episode ends, its channels' discharges and support peaks closer than
        this to the one before still belong to its derecruitment tail (a fading unit
        fires at about 5-8 Hz: 0.2 s and its jitter; :mod:`fascidetect.stages.
        derecruitment`).
    derecruitment_max_s : float
        Longest derecruitment tail after an episode (domain: units derecruit over about
        0.5-2 s); 0 switches the rule off.
    tonic_min_rate_hz, tonic_max_rate_hz : float
        Firing band of regular (tonic or voluntary) trains: tonic units fire at about
        6-20 Hz (domain.md, Rest, voluntary firing and discharge patterns).
    tonic_min_intervals : int
        Fewest successive regular intervals that make a train (6: 7 discharges).
    tonic_max_cv : float
        Largest coefficient of variation of a train's intervals (tonic units: 0.1-0.3).
    tonic_support_sigma : float
        A unit 3-5 times the noise crosses the 5-sigma threshold on only some of its
        discharges, too few for a train. Peaks of the same polarity above this many
        sigmas (and under ``tonic_support_max_sigma``) near a candidate under that limit
        fill in its missed discharges for the train test (:mod:`fascidetect.support`);
        only candidates are labelled. 0 switches it off.
    tonic_support_max_sigma : float
        Candidates and peaks this large or larger take no part in the filled-in test: a
        large fasciculation is not a member of a train of small peaks, and a unit whose
        discharges reach 8 sigma crosses the threshold on nearly all of them, so the
        plain train test sees it (at 12, a 10.7-sigma fasciculation beside an annotated
        contraction joined a train of support peaks).
    tonic_support_min_intervals : int
        Fewest successive intervals of a filled-in train: more than
        ``tonic_min_intervals``, since noise peaks at 3 sigma (3-4 per second and
        channel) form short regular chains by chance.
    tonic_support_tolerance : float
        Step tolerance of the filled-in train (share of a period; plain trains 0.3).
    tonic_support_each_polarity : bool
        Support peaks are searched on each polarity apart (the dead time, echo and phase
        rules compare a peak with peaks of its own sign only), so both phases of a
        biphasic discharge are kept. The trains are walked per channel and polarity; with
        one search, the phase rule kept whichever phase the noise made larger, and a
        biphasic unit at 3-5 sigma had its discharges split between the two polarity
        groups, too sparse in each for a train (near_activity tuning seed 11, PL_R: a
        7-Hz unit whose 5.3-sigma discharge at 97.60 s was reported). True: tuning seeds
        0-17, near_activity 14 -> 10 false, tonic 40 -> 24, no true discharge lost in
        rest, low SNR, doublets, bursty; on pure band-passed noise 0.19 % of support peaks
        join a chance train (0.12 % with one search). False: one search over both.
    tonic_copy_ratio : float
        A discharge whose peak on another channel is at least this share of its largest
        channel's peak also takes part in that channel's train walk (a unit about equal
        on two channels alternates its main channel between them). 0 switches it off.
    low_level_sigma : float
        Sub-threshold peaks (support peaks, above ``tonic_support_sigma``) from this many
        sigmas up to ``tonic_support_max_sigma`` are counted per channel and rest window,
        outside the samples a threshold discharge and its ringing cover. Gaussian noise
        gives about 1 per second at 3.5 sigma (2 kHz); 1-3 tonic units at 2-5 sigma firing
        at 6-20 Hz give several times that, although nearly none of their discharges
        crosses the threshold and their train is too gappy to walk
        (:mod:`fascidetect.low_level`). 0 switches the test off.
    low_level_windows : int
        Successive rest windows whose counts are summed (a run of ``low_level_windows``
        seconds at the default window); all but one of them must hold twice the
        expectation (a cluster of a fasciculating unit's sub-threshold discharges fills
        one or two).
    low_level_ratio : float
        A run is low-level firing when its count reaches this many times its expectation
        at rest (the channel's own, :func:`fascidetect.low_level.rest_expectation`)...
    low_level_p : float
        ... and is this improbable under a Poisson law at that expectation. Tuning seeds
        (tonic 0-17 and 300-311; rest, low SNR, bursty, doublets, beside activity,
        derecruitment, one steady unit 0-17): 5 windows, 3x and 1e-5 take 41 of 76
        false fasciculations of the tonic rows and no true one; at 1e-4 the low-SNR row
        lost 20 true ones (many small fasciculating units), with 3 windows 18.
    footprint_p_value : float
        On a declared grid (``layout`` with rows and columns), a threshold candidate under
        ``footprint_max_sigma`` whose neighbouring electrodes carry nothing of its
        waveform (:func:`fascidetect.footprint.support_p` above this) is a noise
        crossing, not a discharge: ``excluded`` (reason ``no_footprint``). 0 switches it
        off. At 0.01, 1 in 100 real potentials with no visible footprint would be lost,
        and 99 % of noise crossings go.
    footprint_max_sigma : float
        Candidates this large or larger are not judged (noise does not reach it).
    template_matching : bool
        Search again for discharges of the motor units learnt from the confident ones,
        by whitened multichannel matched filtering (:mod:`fascidetect.matching`, as
        SpyKING CIRCUS and Kilosort do): finds a unit's discharges under the
        single-channel threshold and those overlapping other discharges. False gives
        the threshold scan's events alone.
    match_sigma : float
        Threshold of the matched-filter score, in sigmas of its null distribution
        (calibrated on quiet stretches of each recording). Measured on 30 minutes of the
        low-SNR scenario's noise: 0.011 false matches per unit-minute at 5 (about 1 per
        90 unit-minutes), 0.23 at 4.5, 1.0 at 4.
    match_amplitude_range : tuple of float
        A match must fit the unit's template with a gain within this range: a unit's
        discharges vary by 5-20 % (est.), so a far smaller or larger fit is another
        waveform.
    match_main_fraction : float
        A match must show on its unit's main channel: the main channel's samples alone,
        projected on the template's main-channel waveform, must carry at least this
        fraction of the fitted discharge (the whitened multichannel fit). A unit's
        discharges vary by 5-20 % (est.), so a main channel that holds under 0.8 of
        the fit is no discharge of that unit: the score came from its other channels,
        typically a larger potential of another unit there 15-40 ms away. On the
        simulated suite's tuning seeds the 591 true matches held 0.88-1.44 of the fit
        (low-SNR ones down to 1.25 sigma at the main channel's peak sample among them),
        7 false ones 0.22-0.72 (benchmarks/README.md, issue 11); 0 switches the test off.
    match_min_discharges : int
        Fewest confident discharges from which a unit's template is learnt (a mean of
        fewer is too noisy a filter).
    neighbourhood_sigma : float
        With a grid ``layout`` (at least 3 x 3) and ``template_matching`` on: a discharge
        whose spatially whitened squares summed over a 3 x 3 neighbourhood of electrodes
        reach this Gaussian-equivalent z (chi-square, 9 degrees) is found though no
        electrode reaches the threshold (9 electrodes at 3 sigma give about 7). Off
        (``inf``) by default: with the spatial merge of a declared 8 x 8 grid it added
        about 200 false fasciculations per minute on the simulated grid (F1 0.97 -> 0.58,
        seed 0); 6.0 switches it on.
    neighbourhood_member_sigma : float
        Electrodes of such a neighbourhood at least this many sigmas at the peak are
        listed in the event's ``channels``.
    """

    band_low_hz: float = 20.0
    band_high_hz: float = 450.0
    max_band_fraction: float = 0.45
    highpass_mode: str = "standard"
    ecg_band_low_hz: float = 30.0
    filter_order: int = 4
    notch: str = "auto"
    line_removal: str = "regression"
    notch_q: float = 30.0
    line_ratio_db: float = 10.0
    line_mask_sigma: float = 4.0
    line_mask_dilate_ms: float = 8.0
    line_max_harmonic: int = 8
    threshold_sigma: float = 5.0
    artifact_sigma: float = 50.0
    dead_time_ms: float = 8.0
    doublet_max_ms: float = 20.0
    doublet_amplitude_ratio: float = 2.0
    shadow_ms: float = 60.0
    shadow_fraction: float = 0.35
    phase_ms: float = 12.0
    phase_fraction: float = 0.6
    merge_ms: float = 4.0
    merge_loose_ms: float = 15.0
    snippet_ms: float = 30.0
    noise_window_s: float = 2.0
    noise_percentile: float = 10.0
    isolation_interval_s: float = 0.25
    cluster_p_value: float = 1e-4
    cluster_min_discharges: int = 6
    max_fasciculation_rate_per_min: float = 120.0
    burst_active_windows: int = 5
    widespread_fraction: float = 0.6
    edge_guard_s: float = 0.15
    activity_window_ms: float = 25.0
    activity_sigma: float = 3.0
    activity_fraction: float = 0.6
    spasm_min_duration_s: float = 1.0
    spasm_min_channels: int = 2
    episode_margin_s: float = 0.25
    motion_range_factor: float = 5.0
    voluntary_labels: tuple = ("voluntary", "task", "contraction", "mvc", "movement")
    ecg_min_channel_fraction: float = 0.6
    ecg_rr_range_s: tuple = (0.4, 1.5)
    ecg_subtraction: bool = True
    ecg_channel_search: bool = True
    layout: Any = None
    layout_missing: tuple = ()
    muscles: Any = None
    neighbour_radius: float = 3.0
    join_radius: float = 4.0
    propagation_ms: float = 2.5
    echo_ms: float = 20.0
    crosstalk_ms: float = 1.0
    crosstalk_window_ms: float = 20.0
    crosstalk_corr: float = 0.7
    chunk_s: float = 60.0
    min_rest_s: float = 120.0
    min_recording_s: float = 1.0
    shape_min_sfreq_hz: float = 1000.0
    phase_span_ms: float = 20.0
    one_sample_phase_ms: float = 5.0
    cross_phase_min_period_ms: float = 4.0
    filter_margin_s: float = 1.0
    noise_segment_windows: int = 10
    noise_drift_max: float = 3.0
    burst_edge_s: float = 0.5
    artifact_window_ms: float = 200.0
    motion_window_ms: float = 200.0
    motion_out_of_band: float = 2.0
    motion_lf_ratio: float = 3.0
    pop_step_ratio: float = 0.5
    pop_lf_ratio: float = 1.0
    pop_jump_ratio: float = 0.35
    saturation_flat_samples: int = 4
    glitch_max_neighbour_ratio: float = 0.25
    glitch_noise_sigmas: float = 3.5
    glitch_sign_evidence: int = 2
    glitch_min_area: float = 0.0
    glitch_min_height_sigmas: float = 4.0
    glitch_unit_min_neighbour_ratio: float = 0.3
    glitch_unit_max_neighbour_ratio: float = 0.6
    glitch_unit_amplitude_tolerance: float = 0.15
    glitch_unit_min_matches: int = 2
    glitch_unit_lone_share: float = 0.5
    glitch_unit_lone_excess: float = 0.67
    glitch_unit_template_sigmas: float = 1.0
    glitch_unit_template_override_sigmas: float = 3.5
    glitch_shape_min_cosine: float = 0.5
    glitch_sibling_max_neighbour_ratio: float = 1.5
    glitch_template_neighbours: int = 32
    electrode: str = "auto"
    needle_max_p2p_uv: float = 20000.0
    max_fasciculation_p2p_uv: float = 2000.0
    even_spread: float = 0.4
    max_separate_muscles: int = 16
    ecg_rr_tolerance: float = 0.25
    ecg_min_beats: int = 4
    ecg_min_coverage: float = 0.5
    ecg_channel_min_beats: int = 16
    ecg_channel_max_cv: float = 0.08
    ecg_channel_min_coverage: float = 0.25
    ecg_min_lf_ratio: float = 0.3
    ecg_model_min_beats: int = 10
    ecg_half_window_s: float = 0.12
    ecg_search_s: float = 0.04
    ecg_gain_range: tuple = (0.3, 2.0)
    ecg_beat_s: float = 0.15
    ecg_match_core_s: float = 0.04
    ecg_match_min_corr: float = 0.4
    ecg_match_min_rr_share: float = 0.6
    rate_bin_s: float = 10.0
    rate_trim: float = 0.25
    min_unit_discharges: int = 3
    max_waveforms: int = 20_000
    delimit_sigma: float = 2.0
    delimit_fraction: float = 0.1
    rest_window_s: float = 1.0
    rest_trim_fraction: float = 0.0
    rest_z: float = 4.0
    rest_min_excess: float = 0.2
    rest_max_shape_share: float = 0.6
    rest_shape_min_band_hz: float = 300.0
    rest_shape_z: float = 0.0
    rest_tail_z: float = 2.0
    rest_tail_max_ratio: float = 1.6
    rest_tail_join_s: float = 2.0
    local_noise_z: float = 3.0
    rest_guard_s: float = 0.5
    flat_ratio: float = 0.05
    flat_max_sigma_uv: float = 1e-4
    rest_hysteresis: float = 0.5
    derecruitment_gap_s: float = 0.25
    derecruitment_max_s: float = 2.0
    tonic_min_rate_hz: float = 5.0
    tonic_max_rate_hz: float = 25.0
    tonic_min_intervals: int = 6
    tonic_max_cv: float = 0.3
    tonic_support_sigma: float = 3.0
    tonic_support_max_sigma: float = 8.0
    tonic_support_min_intervals: int = 8
    low_level_sigma: float = 3.5
    low_level_windows: int = 5
    low_level_ratio: float = 3.0
    low_level_p: float = 1e-5
    footprint_p_value: float = 0.01
    footprint_max_sigma: float = 8.0
    tonic_support_tolerance: float = 0.25
    tonic_support_each_polarity: bool = True
    tonic_copy_ratio: float = 0.6
    template_matching: bool = True
    match_sigma: float = 5.0
    match_amplitude_range: tuple = (0.5, 2.0)
    match_min_discharges: int = 5
    match_main_fraction: float = 0.8
    neighbourhood_sigma: float = float("inf")
    neighbourhood_member_sigma: float = 2.0

    def __post_init__(self):
        if str(self.notch) not in _NOTCH_OPTIONS:
            raise ParameterError(f"notch must be one of {_NOTCH_OPTIONS}, got {self.notch!r}")
        object.__setattr__(self, "notch", str(self.notch))
        if self.line_removal not in ("regression", "notch"):
            raise ParameterError(
                f"line_removal must be 'regression' or 'notch', got {self.line_removal!r}")
        if self.electrode not in ("auto", "surface", "needle"):
            raise ParameterError(
                f"electrode must be 'auto', 'surface' or 'needle', got {self.electrode!r}")
        if self.highpass_mode not in _HIGHPASS_MODES:
            raise ParameterError(
                f"highpass_mode must be one of {_HIGHPASS_MODES}, got {self.highpass_mode!r}")
        positive = ("band_low_hz", "band_high_hz", "threshold_sigma", "dead_time_ms",
                    "merge_ms", "snippet_ms", "noise_window_s", "isolation_interval_s",
                    "activity_window_ms", "spasm_min_duration_s", "chunk_s", "notch_q",
                    "min_recording_s", "noise_segment_windows", "artifact_window_ms",
                    "motion_window_ms", "ecg_beat_s", "rate_bin_s", "max_waveforms",
                    "min_unit_discharges", "max_fasciculation_p2p_uv", "match_sigma",
                    "match_min_discharges", "one_sample_phase_ms")
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ParameterError(f"{name} must be positive, got {value!r}")
        if not 0 <= self.edge_guard_s <= 60:
            raise ParameterError(f"edge_guard_s must be between 0 and 60 s, got "
                                 f"{self.edge_guard_s!r}")
        if self.band_low_hz >= self.band_high_hz:
            raise ParameterError(
                f"band_low_hz ({self.band_low_hz}) must be below band_high_hz ({self.band_high_hz})")
        if self.derecruitment_gap_s <= 0 or self.derecruitment_max_s < 0:
            raise ParameterError(
                f"need derecruitment_gap_s > 0 and derecruitment_max_s >= 0, got "
                f"{self.derecruitment_gap_s!r}, {self.derecruitment_max_s!r}")
        if self.low_level_sigma < 0 or self.low_level_windows < 1 or self.low_level_ratio <= 0 \
                or not 0 < self.low_level_p < 1:
            raise ParameterError(
                f"need low_level_sigma >= 0, low_level_windows >= 1, low_level_ratio > 0 and "
                f"0 < low_level_p < 1, got {self.low_level_sigma!r}, {self.low_level_windows!r}, "
                f"{self.low_level_ratio!r}, {self.low_level_p!r}")
        if self.dead_time_ms >= 30:
            raise ParameterError(
                f"dead_time_ms={self.dead_time_ms} would merge real paired discharges "
                "(30-35 ms apart, Kleine et al. 2012); use 10-20 ms")
        if not 0 <= self.phase_span_ms < 30:
            raise ParameterError(
                f"phase_span_ms={self.phase_span_ms!r} must be >= 0 and under the 30 ms of "
                "paired discharges (Kleine et al. 2012); a surface potential lasts 5-20 ms")
        if self.artifact_sigma <= self.threshold_sigma:
            raise ParameterError("artifact_sigma must exceed threshold_sigma")
        if self.layout is not None:
            object.__setattr__(self, "layout", normalise_layout(self.layout))
        object.__setattr__(self, "layout_missing",
                           normalise_layout_missing(self.layout_missing, self.layout))
        if isinstance(self.muscles, list):
            object.__setattr__(self, "muscles", tuple(self.muscles))
        if self.muscles is not None and not isinstance(self.muscles, (str, dict, tuple)):
            raise ParameterError(f"muscles must be 'auto', a channel-to-muscle map or one label "
                                 f"per channel, got {self.muscles!r}")
        for name in ("neighbour_radius", "join_radius"):
            if not getattr(self, name) >= 1.0:
                raise ParameterError(f"{name} must be at least 1 electrode, got {getattr(self, name)!r}")
        if self.crosstalk_ms < 0 or self.propagation_ms < 0:
            raise ParameterError(f"crosstalk_ms and propagation_ms must be >= 0, got "
                                 f"{self.crosstalk_ms!r} and {self.propagation_ms!r}")
        if self.chunk_s < 4 * self.noise_window_s:
            raise ParameterError("chunk_s must be at least 4 noise windows long")
        object.__setattr__(self, "voluntary_labels", tuple(self.voluntary_labels))
        object.__setattr__(self, "ecg_rr_range_s", tuple(self.ecg_rr_range_s))
        object.__setattr__(self, "ecg_gain_range", tuple(self.ecg_gain_range))
        amp = tuple(float(v) for v in self.match_amplitude_range)
        if len(amp) != 2 or not 0 < amp[0] < amp[1]:
            raise ParameterError("match_amplitude_range must be (low, high) with 0 < low < "
                                 f"high, got {self.match_amplitude_range!r}")
        object.__setattr__(self, "match_amplitude_range", amp)
        if not 0 <= self.match_main_fraction < 1:
            raise ParameterError("match_main_fraction must be in [0, 1), got "
                                 f"{self.match_main_fraction!r}")

    @property
    def effective_band_low_hz(self) -> float:
        """High-pass corner actually used (raised in ``ecg`` mode)."""
        return max(self.band_low_hz, self.ecg_band_low_hz) if self.highpass_mode == "ecg" \
            else self.band_low_hz

    def band_for(self, sfreq: float) -> tuple[float, float]:
        """Return the (low, high) band in Hz for a sampling rate, or raise if it cannot fit."""
        low = self.effective_band_low_hz
        high = min(self.band_high_hz, self.max_band_fraction * sfreq)
        if high <= low * 1.5:
            raise ParameterError(
                f"sampling rate {sfreq:g} Hz is too low for the {low:g}-{self.band_high_hz:g} Hz "
                f"EMG band (the upper edge would be {high:g} Hz); record at >= 1000 Hz, "
                f"or at least {3.5 * low:g} Hz for detection only")
        return low, high

    def rest_spectral(self, band: tuple[float, float]) -> bool:
        """Return whether the band reaches ``rest_shape_min_band_hz``: a rise of the rest
        windows' background is then judged by its spectrum, else by its tails."""
        return band[1] >= self.rest_shape_min_band_hz

    def rest_pooled_z(self, band: tuple[float, float]) -> float:
        """Return the z of the pooled rest-window shape decision for a band: ``rest_shape_z``
        (spectral test, :meth:`rest_spectral`), else ``rest_tail_z``
        (:func:`fascidetect.rest.tail_scores`)."""
        return self.rest_shape_z if self.rest_spectral(band) else self.rest_tail_z

    def replace(self, **changes) -> "DetectionParams":
        """Return a copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """Return the parameters as a JSON-friendly dict."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_kwargs(cls, params: "DetectionParams | None" = None, **kwargs) -> "DetectionParams":
        """Return params built from an optional base and keyword overrides, rejecting typos."""
        base = params or cls()
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - fields)
        if unknown:
            raise ParameterError(f"unknown detection parameter(s) {unknown}; known: {sorted(fields)}")
        return dataclasses.replace(base, **kwargs) if kwargs else base


def normalise_layout(layout) -> tuple[int, int] | str:
    """Return ``layout`` as ``(rows, cols)`` or an upper-case grid name, or raise.

    Accepted: two positive integers (a tuple or list), ``"ROWSxCOLS"`` / ``"ROWS,COLS"``
    text (the command line's form, any case) or a name of :data:`fascidetect.grids.GRIDS`.

    Examples
    --------
    >>> normalise_layout("8X8"), normalise_layout([1, 8]), normalise_layout("gr08mm1305")
    ((8, 8), (1, 8), 'GR08MM1305')
    """
    from .grids import GRIDS

    bad = ParameterError(f"layout must be (rows, cols) of positive integers, 'ROWSxCOLS' or a "
                         f"grid name ({', '.join(sorted(GRIDS))}), got {layout!r}")
    if isinstance(layout, str):
        text = layout.strip().upper()
        if text in GRIDS:
            return text
        parts = text.replace("X", ",").split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise bad
        layout = parts
    try:
        values = [int(v) for v in layout]
        # int() truncates: (8.5, 8) must be refused, not read as (8, 8).
        whole = all(float(v) == n for v, n in zip(layout, values))
    except (TypeError, ValueError):
        raise bad from None
    if len(values) != 2 or min(values) < 1 or not whole:
        raise bad
    return values[0], values[1]


def layout_size(layout) -> int:
    """Return the number of electrodes of a normalised ``layout``."""
    if isinstance(layout, str):
        from .grids import positions

        return positions(layout).shape[0]
    return layout[0] * layout[1]


def normalise_layout_missing(missing, layout) -> tuple[int, ...]:
    """Return the missing electrodes of ``layout`` as sorted unique 1-based numbers, or
    raise when they are not electrodes of it."""
    if missing is None or (isinstance(missing, str) and not missing.strip()):
        return ()
    given = missing
    if isinstance(missing, str) or not hasattr(missing, "__iter__"):  # "12,40" or 12
        missing = str(missing).split(",")
    try:
        numbers = sorted({int(str(v).strip()) for v in missing})
    except (TypeError, ValueError):
        raise ParameterError(f"layout_missing must be 1-based electrode numbers, got "
                             f"{given!r}") from None
    if not numbers:
        return ()
    if layout is None:
        raise ParameterError("layout_missing names electrodes of a layout: declare the layout "
                             "too (layout=(rows, cols) or a grid name)")
    size = layout_size(layout)
    if numbers[0] < 1 or numbers[-1] > size or len(numbers) >= size:
        raise ParameterError(f"layout_missing {tuple(numbers)} must be electrode numbers 1-{size} "
                             f"of the layout, leaving at least one")
    return tuple(numbers)


def parse_param_overrides(pairs: Sequence[tuple[str, str]]) -> dict:
    """Return a dict of typed overrides from ``(name, text)`` pairs given on the CLI."""
    fields = {f.name: f for f in dataclasses.fields(DetectionParams)}
    defaults = DetectionParams()
    out = {}
    for name, text in pairs:
        name = name.replace("-", "_")
        if name not in fields:
            raise ParameterError(f"unknown detection parameter '{name}'; known: {sorted(fields)}")
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                out[name] = text.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                out[name] = int(text)
            elif isinstance(default, float):
                out[name] = float(text)
            elif name == "layout":
                out[name] = normalise_layout(text)  # ROWSxCOLS or a grid name
            elif isinstance(default, tuple):
                parts = [p for p in text.replace("x", ",").split(",") if p]
                out[name] = tuple(float(p) if default and isinstance(default[0], float) else p
                                  for p in parts)
            else:
                out[name] = text
        except ParameterError:
            raise
        except ValueError:
            raise ParameterError(f"parameter '{name}' expects a {type(default).__name__}, "
                                 f"got {text!r}") from None
    return out
