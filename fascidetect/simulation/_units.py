"""Motor-unit activity: fasciculating units, spasm episodes and voluntary contractions,
each returned as a signal buffer plus its truth rows."""

from __future__ import annotations

import numpy as np

from ..events import empty_events
from ..spans import in_spans
from ._firing import (_cluster_members, _drop_close, _gamma_renewal, _operational_time_train,
                      _uniform_in_spans)
from ._ranges import _draw, _draw_int, _pair
from ._sources import _detection_band_sos
from ._truth import _join, _visible
from ._waveforms import _make_unit
from .scenarios import ScenarioParams

#: No fasciculation within this of an episode unless the scenario asks (s); the zone
#: "right beside activity" of ``fasc_beside_activity_share`` is the same width.
ACTIVITY_MARGIN_S = 0.3
#: Unit ids of the derecruitment tails start here (10 per episode): apart from the
#: fasciculating and tonic units.
TAIL_UNIT_BASE = 100_000


def _trapezoid(t, dur, up, down):
    return np.clip(np.minimum(t / up, (dur - t) / down), 0.0, 1.0)


def _beside_zones(spans, window_s, lo_s, hi_s):
    """Return the zones from ``window_s[0]`` to ``window_s[1]`` s before and after each
    span, clipped to [lo, hi]."""
    near, far = window_s
    zones = [(max(lo_s, s - far), min(hi_s, s - near)) for s, _ in spans]
    zones += [(max(lo_s, e + near), min(hi_s, e + far)) for _, e in spans]
    return [(a, b) for a, b in zones if b > a]


# ====================================================================== components
def _fasciculations(rng, sp: ScenarioParams, montage, renderer, duration, exclude, noise,
                    beside=()):
    """Add fasciculating units into a buffer; return (buffer, truth rows).

    ``exclude`` are the episodes no discharge is placed in or near (unless
    ``sp.fasc_during_activity``); ``beside`` those next to which extra discharges go
    when ``sp.fasc_beside_activity_share`` is positive.
    """
    buf = renderer.new_buffer()
    n_units = _draw_int(rng, sp.n_fasc_units) if _pair(sp.n_fasc_units)[1] > 0 else 0
    rows = []
    if n_units == 0:
        return renderer.trim(buf), empty_events(0)
    # Spread units over the host muscles (each host once before any repeats) so that a
    # root pattern such as L5 shows on several muscles.
    hosts = rng.permutation(montage.channels_for(sp.fasc_muscles))
    if sp.pair_muscles:
        # The paired units first, on their muscles' channels.
        paired = np.concatenate([montage.channels_for((m,))[:1] for m in sp.pair_muscles])
        hosts = np.concatenate([paired, hosts[~np.isin(hosts, paired)]])
    leader = None
    refr = sp.refractory_ms / 1000.0
    zones = _beside_zones(beside, _pair(sp.fasc_beside_window_s), sp.edge_s, duration - sp.edge_s)
    forced = False
    for u in range(n_units):  # a loop over a handful of units
        if montage.grid and not (sp.pair_muscles and u < 2):
            rows_, cols_ = montage.pos.max(axis=0) + 1
            centre = (rng.uniform(0, rows_ - 1), rng.uniform(0, cols_ - 1))
        else:
            centre = montage.pos[hosts[u % hosts.size]]
        unit = _make_unit(rng, renderer, montage, centre, _draw(rng, sp.fasc_spread),
                          _draw(rng, sp.fasc_duration_ms), _draw(rng, sp.fasc_amplitude_uv))
        rate_hz = _draw(rng, sp.fasc_rate_per_min) / 60.0
        t = _gamma_renewal(rng, duration - 2 * sp.edge_s, rate_hz, sp.fasc_cv, refr, sp.edge_s)
        is_doublet = rng.random(t.size) < sp.doublet_prob
        forced = forced or bool(is_doublet.any())
        if sp.doublet_prob > 0 and not forced and u == n_units - 1:
            # Make sure a recording that should have doublets has one (tests rely on it):
            # pick a discharge with room for its partner, away from episodes.
            room = np.diff(np.append(t, np.inf)) > refr + 0.04
            room &= ~in_spans(t, exclude, margin=0.4) & (t < duration - sp.edge_s - 0.05)
            if room.any():
                is_doublet[rng.choice(np.flatnonzero(room))] = True
                forced = True
        partners = t[is_doublet] + _draw(rng, sp.doublet_interval_ms, int(is_doublet.sum())) / 1000.0
        # A partner must keep the refractory period to the unit's next ordinary discharge.
        nxt = np.searchsorted(t, partners)
        nxt_t = np.where(nxt < t.size, t[np.minimum(nxt, t.size - 1)], np.inf)
        keep = (nxt_t - partners > refr) & (partners < duration - sp.edge_s)
        partners = partners[keep]
        times = np.concatenate([t, partners])
        kind = np.concatenate([np.zeros(t.size, int), np.ones(partners.size, int)])
        if sp.burst_prob > 0:
            members = _bursts(rng, sp, t, is_doublet, refr, duration)
            times = np.concatenate([times, members])
            kind = np.concatenate([kind, np.full(members.size, 2)])
        if not sp.fasc_during_activity:
            ok = ~in_spans(times, exclude, margin=ACTIVITY_MARGIN_S)
            times, kind = times[ok], kind[ok]
        if sp.fasc_beside_activity_share > 0 and zones:
            extra = _uniform_in_spans(rng, zones, rng.binomial(times.size, sp.fasc_beside_activity_share))
            extra = _drop_close(extra, np.sort(times), refr)
            times = np.concatenate([times, extra])
            kind = np.concatenate([kind, np.full(extra.size, 3)])
        if sp.pair_muscles and u == 1 and leader is not None and sp.pair_share > 0:
            # Answer some of the first unit's discharges a few ms before or after.
            lead = leader[rng.random(leader.size) < sp.pair_share]
            step = _draw(rng, sp.pair_interval_ms, lead.size) / 1000.0
            answers = lead + np.where(rng.random(lead.size) < 0.5, -step, step)
            answers = answers[(answers > sp.edge_s) & (answers < duration - sp.edge_s)]
            o = np.argsort(times)
            own, kind = times[o], kind[o]
            answers = _drop_close(answers, own, refr)
            times = np.concatenate([own, answers])
            kind = np.concatenate([kind, np.full(answers.size, 4)])
            if not sp.fasc_during_activity:
                ok = ~in_spans(times, exclude, margin=ACTIVITY_MARGIN_S)
                times, kind = times[ok], kind[ok]
        order = np.argsort(times)
        times, kind = times[order], kind[order]
        if u == 0:
            leader = times
        if times.size == 0:
            continue
        amps = 1.0 + sp.fasc_jitter * rng.standard_normal(times.size)
        renderer.place(buf, unit, times, amps)
        rows.append(_discharge_rows(renderer, unit, times, amps, u, montage, noise, sp))
    truth = np.concatenate(rows) if rows else empty_events(0)
    return renderer.trim(buf), truth


def _bursts(rng, sp, t, is_doublet, refr, duration):
    """Return the cluster discharges that follow some of a unit's ordinary discharges ``t``.

    A cluster starts at an ordinary discharge without a doublet partner (so the two
    never collide) and keeps the refractory period to the unit's next ordinary discharge.
    """
    first = np.flatnonzero(~is_doublet & (rng.random(t.size) < sp.burst_prob))
    members, owner = _cluster_members(rng, t[first], sp.burst_size, sp.burst_interval_ms)
    nxt = first[owner] + 1
    nxt_t = np.where(nxt < t.size, t[np.minimum(nxt, t.size - 1)], np.inf)
    return members[(nxt_t - members > refr) & (members < duration - sp.edge_s)]


def _discharge_rows(renderer, unit, times, amps, unit_id, montage, noise, sp,
                    trial_type="fasciculation"):
    """Return truth rows of one unit's discharges measured on the rendered templates."""
    fs = renderer.sfreq
    p, m0 = renderer.offsets(unit, times)
    p2p, peak, onset, end = renderer.features(unit)
    rows = empty_events(times.size)
    rows["trial_type"] = trial_type
    rows["onset"] = (m0 + onset[p]) / fs
    rows["duration"] = (end[p] - onset[p] + 1) / fs
    rows["duration_ms"] = rows["duration"] * 1000.0
    rows["peak_time"] = (m0 + peak[p]) / fs
    main_ch = unit.chans[unit.main]
    rows["channel"] = montage.names[main_ch]
    amp_ch = np.abs(amps)[:, None] * p2p[p]                       # (n, C_unit)
    rows["peak_amplitude_uv"] = amp_ch[:, unit.main]
    vis = _visible(amp_ch, noise[unit.chans][None, :], sp.visibility_snr)
    vis[:, unit.main] = True
    names = [montage.names[c] for c in unit.chans]
    rows["channels"] = [_join(names, v) for v in vis]
    # The in-band peak over the in-band noise: what a detector can see of the discharge.
    peak_in_band = renderer.in_band_peak(unit, _detection_band_sos(fs))
    rows["snr"] = np.abs(amps) * peak_in_band[p] / np.maximum(noise[main_ch], 1e-9)
    rows["unit"] = unit_id
    # Isolation (Sleutjes et al. 2016): both intervals to the unit's neighbours > 250 ms.
    gaps = np.diff(times)
    prev_gap = np.concatenate([[np.inf], gaps])
    next_gap = np.concatenate([gaps, [np.inf]])
    rows["isolated"] = ((prev_gap > 0.25) & (next_gap > 0.25)).astype(np.int8)
    return rows


def _episode(rng, sp, kind, montage, renderer, onset, dur, noise, first_tail_unit=TAIL_UNIT_BASE):
    """Return (buffer, truth rows) of one spasm or voluntary contraction: the episode's
    row, then a ``voluntary`` row per discharge of its derecruitment tails (units from
    ``first_tail_unit``), if the scenario has them."""
    spasm = kind == "spasm"
    n_units = _draw_int(rng, sp.spasm_n_units if spasm else sp.voluntary_n_units)
    hosts = montage.channels_for(sp.spasm_muscles if spasm else sp.voluntary_muscles)
    extent = max(1, sp.spasm_extent_ch if spasm else sp.voluntary_extent_ch)
    if montage.grid:
        rows_, cols_ = montage.pos.max(axis=0) + 1
        c_r, c_c = rng.uniform(0, rows_ - 1), rng.uniform(0, cols_ - 1)
        centres = np.column_stack([np.clip(c_r + rng.uniform(-extent / 2, extent / 2, n_units), 0, rows_ - 1),
                                   np.clip(c_c + rng.uniform(-extent / 2, extent / 2, n_units), 0, cols_ - 1)])
    else:
        first = rng.integers(0, max(1, hosts.size - extent + 1))
        group = hosts[first:first + extent]
        centres = montage.pos[rng.choice(group, n_units)]
    # Envelope on a 1 kHz grid: ramps, plateau and slow waxing and waning.
    t = np.arange(0.0, dur, 1e-3)
    up, down = dur * rng.uniform(0.15, 0.35), dur * rng.uniform(0.2, 0.4)
    env = _trapezoid(t, dur, up, down)
    if spasm:
        env = env * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * t + rng.uniform(0, 6.3)))
    thr = np.sort(rng.uniform(0.0, 0.7 if spasm else 0.8, n_units))
    buf = renderer.new_buffer()
    rates, units, trains = [], [], []
    for i in range(n_units):  # a loop over the episode's motor units
        # Size principle: later-recruited units are larger.
        unit = _make_unit(rng, renderer, montage, centres[i], rng.uniform(0.4, 1.0),
                          rng.uniform(8.0, 15.0), 1.0 + 3.0 * thr[i])
        excite = np.clip((env - thr[i]) / (1.0 - thr[i]), 0.0, None)
        on = env > thr[i]
        if spasm:
            mean, sd, lo, hi = sp.spasm_rate_hz
            base = float(np.clip(rng.normal(mean, sd), lo, hi))
            rate = np.where(on, base * (0.8 + 0.2 * np.minimum(excite, 1.0)), 0.0)
            cv = _draw(rng, sp.spasm_cv)
        else:
            lo, hi = _pair(sp.voluntary_rate_hz)
            top = rng.uniform(lo + 0.6 * (hi - lo), hi)
            rate = np.where(on, lo + (top - lo) * np.minimum(excite, 1.0), 0.0)
            cv = sp.voluntary_cv
        times = _operational_time_train(rng, t, rate, cv)
        if times.size >= 2:
            rates.append((times.size - 1) / (times[-1] - times[0]))
        renderer.place(buf, unit, onset + times, 1.0 + 0.05 * rng.standard_normal(times.size))
        units.append(unit)
        trains.append(times)
    tails = _derecruitment_tails(rng, sp, units, trains, dur) if _pair(sp.derecruit_tail_s)[1] > 0 \
        else []
    for unit, times, amps in tails:  # a loop over one to three fading units
        renderer.place(buf, unit, onset + times, amps)
    sig = renderer.trim(buf)
    a, b = int(round(onset * renderer.sfreq)), int(round((onset + dur) * renderer.sfreq))
    rms = np.sqrt(np.mean(sig[:, a:b] ** 2, axis=1))
    target = _draw(rng, sp.spasm_rms_uv if spasm else sp.voluntary_rms_uv)
    scale = target / max(rms.max(), 1e-12)
    sig *= scale
    rms *= scale
    tail_rows = [_discharge_rows(renderer, unit, onset + times, amps * scale, first_tail_unit + k,
                                 montage, noise, sp, trial_type="voluntary")
                 for k, (unit, times, amps) in enumerate(tails)]
    main = int(np.argmax(rms))
    row = empty_events(1)
    row["trial_type"] = kind
    row["onset"], row["duration"], row["duration_ms"] = onset, dur, dur * 1000.0
    row["peak_time"] = onset + t[np.argmax(env)]
    row["channel"] = montage.names[main]
    row["channels"] = _join(montage.names, _visible(rms, noise, sp.visibility_snr) | (np.arange(montage.n) == main))
    row["rms_uv"] = rms[main]
    row["firing_rate_hz"] = float(np.mean(rates)) if rates else np.nan
    return sig, (np.concatenate([row] + tail_rows) if tail_rows else row)


def _derecruitment_tails(rng, sp, units, trains, dur):
    """Return (unit, times, amplitudes) of the fading discharges of an episode's
    ``derecruit_n_units`` lowest-threshold units after its end ``dur`` (times from onset).

    Each keeps firing from its last discharge of the episode until up to
    ``derecruit_tail_s`` after the end, its rate falling steadily from
    ``derecruit_rate_hz[0]`` to ``derecruit_rate_hz[1]`` (drawn per unit), interval CV
    ``derecruit_cv``: the last units of a fading contraction slow down and drop out.
    """
    out = []
    for i in range(min(len(units), _draw_int(rng, sp.derecruit_n_units))):  # 1-3 units
        last = trains[i][-1] if trains[i].size else dur
        stop = dur + _draw(rng, sp.derecruit_tail_s)
        if stop <= last:
            continue
        t = np.arange(0.0, stop - last, 1e-3)
        start_hz, end_hz = (_draw(rng, r) for r in sp.derecruit_rate_hz)
        rate = start_hz + (end_hz - start_hz) * t / max(t[-1], 1e-9)
        times = last + _operational_time_train(rng, t, rate, _draw(rng, sp.derecruit_cv))
        times = times[times > last + 0.5 / start_hz]  # keep the unit's refractory period
        if times.size:
            out.append((units[i], times, 1.0 + 0.05 * rng.standard_normal(times.size)))
    return out
