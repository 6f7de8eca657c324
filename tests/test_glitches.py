"""Single-sample glitches (fascidetect.glitches): a lone sample is an artifact, a
sampled motor-unit potential is not."""

from __future__ import annotations

import numpy as np

from fascidetect import detect
from fascidetect.evaluation import evaluate, match_times
from fascidetect.glitches import SHAPE_OFFSETS, lone_samples, spike_features
from fascidetect.params import DetectionParams
from fascidetect.simulation import simulate

FS = 200.0


def _snippets():
    rng = np.random.default_rng(3)
    n = 41
    base = rng.normal(0.0, 2e-6, (2, n)) + 50e-6  # noise and a DC offset
    base[0, 20] += 25e-6                          # a lone sample
    # A biphasic potential after the board's decimation filter: spread over its neighbours.
    base[1, 18:23] += np.array([-8.0, -30.0, 60.0, -20.0, -4.0]) * 1e-6
    return base


def test_lone_sample_and_potential_features_differ():
    f = spike_features(_snippets(), FS)
    assert f["spike_neighbour_ratio"][0] < 0.25
    assert f["spike_neighbour_ratio"][1] > 0.4
    assert f["spike_area"][0] > 0.7 and abs(f["spike_area"][1]) < 0.3
    assert np.sign(f["spike_amplitude"]).tolist() == [1.0, 1.0]


def test_lone_samples_flags_the_glitch_only():
    f = spike_features(_snippets(), FS)
    assert lone_samples(f, np.array([0, 0]), DetectionParams()).tolist() == [True, False]


def _features(ratio, amp, noise=0.05, area=0.9, shape=None):
    ratio = np.asarray(ratio, float)
    f = {"spike_neighbour_ratio": ratio, "spike_noise_ratio": np.full(ratio.size, noise),
         "spike_area": np.full(ratio.size, area), "spike_amplitude": np.asarray(amp) * 1e-6}
    if shape is not None:  # the samples at -2, -1, +1, +2 over the peak, a row each
        shape = np.asarray(shape, float)
        f.update({f"spike_beside_{j:+d}": shape[:, k] for k, j in enumerate(SHAPE_OFFSETS)})
    return f


def test_glitches_of_both_signs_show_a_glitching_channel():
    # A candidate whose neighbours (0.3 of it) only noise explains is a glitch on a
    # channel seen to glitch. One clear lone sample of the other polarity beside two of
    # its own that no unit vouches for: the channel glitches in both signs.
    ratio, amp = [0.1, 0.1, 0.12, 0.3], [-30.0, 30.0, 28.0, 29.0]
    f = _features(ratio, amp, noise=0.1)
    assert lone_samples(f, np.zeros(4, int), DetectionParams()).tolist() == [True] * 4
    # Lone samples of one sign only may be a small unit's: the candidate is not judged.
    f = _features(ratio[1:], amp[1:], noise=0.1)
    assert lone_samples(f, np.zeros(3, int), DetectionParams()).tolist() == [True, True, False]
    # One of each sign is not enough either.
    f = _features([0.1, 0.1, 0.3], [-30.0, 30.0, 29.0], noise=0.1)
    assert lone_samples(f, np.zeros(3, int), DetectionParams()).tolist() == [True, True, False]


def test_a_unit_vouches_only_for_lone_samples_that_follow_its_template():
    # Two potentials of a unit sampled narrow: their other phase 2 samples before the
    # peak, at -0.45 of it. Of three lone samples of its channel, polarity and size, the
    # one whose sample 2 before sits at -0.1 of the peak (2 noise sigmas along that
    # template) is the unit's; one whose neighbours lie the other way, or whose only
    # trace is on the side where the template holds nothing, is a glitch.
    unit = [[-0.45, 0.05, 0.1, 0.0], [-0.42, -0.05, 0.12, 0.02]]
    lone = [[-0.10, 0.0, 0.02, 0.0], [0.08, 0.03, -0.05, 0.0], [0.0, 0.0, 0.0, 0.15]]
    f = _features([0.45, 0.42, 0.1, 0.08, 0.15], [30.0, 31.0, 29.0, 30.5, 30.0],
                  shape=unit + lone)
    mask = lone_samples(f, np.zeros(5, int), DetectionParams())
    assert mask.tolist() == [False, False, False, True, True]
    # Without the template test (shapes not given) the counting rules keep all three.
    f = _features([0.45, 0.42, 0.1, 0.08, 0.15], [30.0, 31.0, 29.0, 30.5, 30.0])
    assert not lone_samples(f, np.zeros(5, int), DetectionParams()).any()


def test_a_lone_sample_that_follows_its_unit_closely_is_kept_despite_glitches():
    # A lone sample of the other polarity and the same size shows the channel glitching
    # at that size, so the counting rules alone say glitch; neighbours 4 noise sigmas
    # along the unit's template say it is the unit's.
    unit = [[-0.45, 0.05, 0.1, 0.0], [-0.42, -0.05, 0.12, 0.02]]
    f = _features([0.45, 0.42, 0.2, 0.1], [30.0, 31.0, 29.0, -30.0],
                  shape=unit + [[-0.2, 0.0, 0.02, 0.0], [0.0, 0.05, 0.0, 0.0]])
    assert lone_samples(f, np.zeros(4, int), DetectionParams()).tolist() == [False, False, False, True]


def test_lifted_neighbours_that_follow_no_sibling_make_a_glitch_on_a_glitching_channel():
    # A channel seen to glitch (two clear lone samples of negative polarity), a unit of
    # 30 µV sampled twice with its other phase 2 samples before the peak, and a
    # candidate of that size whose neighbours (0.2-0.45 of it, wander lifting them all)
    # follow neither of the unit's shapes: a glitch. The unit's own two follow each other.
    unit = [[-0.45, 0.05, 0.1, 0.0], [-0.42, -0.05, 0.12, 0.02]]
    lifted = [[0.3, 0.45, 0.2, 0.3]]
    clear = [[0.05, 0.0, -0.1, 0.02], [0.0, 0.1, 0.0, -0.05]]
    f = _features([0.1, 0.1, 0.45, 0.42, 0.45], [-25.0, -24.0, 30.0, 31.0, 30.0],
                  shape=clear + unit + lifted)
    assert lone_samples(f, np.zeros(5, int), DetectionParams()).tolist() == [True, True, False, False, True]
    # Without a glitch of the other polarity seen on the channel, it stays a discharge.
    f = _features([0.45, 0.42, 0.45], [30.0, 31.0, 30.0], shape=unit + lifted)
    assert not lone_samples(f, np.zeros(3, int), DetectionParams()).any()
    # Nor is it judged with the test off.
    f = _features([0.1, 0.1, 0.45, 0.42, 0.45], [-25.0, -24.0, 30.0, 31.0, 30.0],
                  shape=clear + unit + lifted)
    off = DetectionParams(glitch_shape_min_cosine=-1.0)
    assert lone_samples(f, np.zeros(5, int), off).tolist() == [True, True, False, False, False]


def test_spike_features_give_the_shape_beside_the_peak():
    f = spike_features(_snippets(), FS)
    shape = np.stack([f[f"spike_beside_{j:+d}"] for j in SHAPE_OFFSETS], axis=1)
    assert np.all(np.abs(shape[0]) < 0.25)                      # the lone sample
    np.testing.assert_allclose(shape[1], [-8 / 60, -0.5, -1 / 3, -4 / 60], atol=0.08)


def test_lone_sample_matching_a_unit_on_its_channel_is_kept():
    # Two potentials of a unit (same channel, polarity and size) sampled narrow at the
    # phases beside the one-sample phase vouch for a third that happened to be sampled
    # one sample wide.
    f = _features([0.1, 0.45, 0.5, 0.1], [30.0, 31.0, 29.0, -20.0])
    mask = lone_samples(f, np.zeros(4, int), DetectionParams())
    assert mask.tolist() == [False, False, False, True]  # opposite polarity: no unit
    # A lone sample of its size in the other polarity shows the channel glitching at
    # that size: the unit vouches only for lone samples in excess over those.
    f = _features([0.1, 0.45, 0.5, 0.1], [30.0, 31.0, 29.0, -30.0])
    mask = lone_samples(f, np.zeros(4, int), DetectionParams())
    assert mask.tolist() == [True, False, False, True]


def test_a_glitch_train_cannot_vouch_for_itself():
    # Six lone samples of one size on one channel, in both polarities: none has a
    # waveform, so none is a unit's; the noise lifted two over 0.3 (within 3.5 noise
    # sigmas), and on main such ones rescued the rest.
    f = _features([0.1, 0.2, 0.35, 0.36, 0.1, 0.15], [25.0, 26.0, 24.0, 25.5, -24.5, -25.0],
                  noise=0.15)
    assert lone_samples(f, np.zeros(6, int), DetectionParams()).all()
    # Without a lone sample of the other polarity the channel is not seen to glitch:
    # neighbours of 0.35 of the peak, which a small unit's brief potential may leave,
    # are not called a glitch on the noise's word alone.
    f = _features([0.1, 0.2, 0.35, 0.36], [25.0, 26.0, 24.0, 25.5], noise=0.15)
    assert lone_samples(f, np.zeros(4, int), DetectionParams()).tolist() == [True, True, False, False]


def test_a_unit_of_glitch_size_does_not_rescue_a_more_frequent_glitch_train():
    # A unit sampled narrow twice, and a glitch train of its size in both polarities
    # (five positive, four negative lone samples): more lone samples than such a unit
    # gives, and no more of its polarity than of the other, so they are glitches.
    lone = [0.1] * 9
    amps = [25.0, 24.0, 26.0, 25.0, 24.5, -25.0, -24.0, -26.0, -25.5]
    f = _features(lone + [0.5, 0.5], amps + [25.0, 25.0])
    assert lone_samples(f, np.zeros(11, int), DetectionParams()).tolist() == [True] * 9 + [False] * 2
    # A unit sampled narrow ten times beside that train: five positive lone samples
    # against four negative ones are the train's, not the unit's (on main the unit's
    # share vouched for all five).
    f = _features(lone + [0.5] * 10, amps + [25.0] * 10)
    mask = lone_samples(f, np.zeros(19, int), DetectionParams())
    assert mask.tolist() == [True] * 9 + [False] * 10
    # The same unit beside lone samples of its polarity only (none of the other): they
    # are its one-sample-wide potentials.
    f = _features(lone[:3] + [0.5] * 10, amps[:3] + [25.0] * 10)
    assert not lone_samples(f, np.zeros(13, int), DetectionParams()).any()
    # Five positive lone samples and no negative ones beside a unit sampled narrow twice:
    # the excess over the other polarity is the unit's one-sample-wide potentials.
    f = _features(lone[:5] + [0.5, 0.5], amps[:5] + [25.0, 25.0])
    assert not lone_samples(f, np.zeros(7, int), DetectionParams()).any()
    # Broad potentials of that size (neighbours as large as the peak) never sample one
    # sample wide: they do not vouch.
    f = _features(lone + [0.95] * 10, amps + [25.0] * 10)
    assert lone_samples(f, np.zeros(19, int), DetectionParams()).tolist() == [True] * 9 + [False] * 10


def test_glitch_on_a_steep_baseline_is_a_lone_sample():
    # A glitch of the simulator's 200-Hz board on a baseline falling 4-5 µV a sample
    # (tuning seed 2, 6.515 s, EHL_R; µV, centred on it): its raw neighbours differ from
    # the flanks' median by most of its height (neighbour ratio 0.61 on main, where it
    # was a fasciculation), not from the local line.
    x = np.array([35.0, 33.9, 27.0, 26.3, 22.4, 20.5, 17.9, 16.8, 12.6, 13.9, 7.1, 4.2, 1.5,
                  1.8, -4.7, -6.2, -9.0, -13.8, -14.5, -13.9, 0.0, -20.1, -23.6, -28.9, -42.2,
                  -25.3, -18.7, -31.7, -38.7, -35.3, -37.0, -37.4, -46.0, -43.8, -44.9, -50.2,
                  -49.5, -49.0, -52.3, -50.3, -51.5]) * 1e-6
    f = spike_features(x[None, :], FS)
    assert f["spike_neighbour_ratio"][0] < 0.25
    assert f["spike_amplitude"][0] > 15e-6
    assert lone_samples(f, np.array([0]), DetectionParams()).tolist() == [True]


def test_potential_with_phases_two_samples_apart_is_not_a_lone_sample():
    # A biphasic potential sampled at 200 Hz with its phases 10 ms apart and the sample
    # between them at the zero crossing (tuning seed 0 of the 200-Hz board: +34, 1, -56
    # µV): on main only the two samples beside the peak were looked at and it was a
    # glitch unless a unit rescued it.
    rng = np.random.default_rng(6)
    x = 40e-6 + rng.normal(0.0, 1.5e-6, 41)
    x[18:23] += np.array([34.0, 1.4, -56.0, 1.5, 0.0]) * 1e-6
    f = spike_features(x[None, :], FS)
    assert f["spike_neighbour_ratio"][0] > 0.5
    assert not lone_samples(f, np.array([0]), DetectionParams()).any()


def test_simulated_board_glitches_are_artifacts_not_fasciculations():
    # Ganglion-like board at 200 Hz with 30 single-sample glitches a minute: before the
    # glitch test nearly every one was a fasciculation (seed 11: 24.6 false a minute);
    # then 25 of its 52 glitches (11.3 false a minute, precision 0.918), then 14 (5.6),
    # now 7 (2.0 false a minute, precision 0.984): the noise the neighbours are judged
    # against is the channel's floor, not 8 samples' worth.
    rec, truth = simulate(scenario="glitches", seed=11)
    ev = detect(rec).events
    glitch_t = truth["peak_time"][truth["artifact_kind"] == "glitch"]
    fas = ev[ev["trial_type"] == "fasciculation"]
    as_fasc, _ = match_times(fas["peak_time"], glitch_t, 0.01)
    art = ev[ev["artifact_kind"] == "glitch"]
    as_glitch, _ = match_times(art["peak_time"], glitch_t, 0.01)
    assert as_fasc.size <= 0.2 * glitch_t.size, (as_fasc.size, glitch_t.size)
    assert as_glitch.size >= 0.75 * glitch_t.size, (as_glitch.size, glitch_t.size)
    report = evaluate(ev, truth)
    assert report.precision >= 0.975, report


def test_unit_of_glitch_size_beside_glitches_still_counts():
    # Tuning seed 6 of the 200-Hz board: the main unit's raw peaks are glitch-sized
    # (median 22 µV; glitches 20-30 µV, 30 a minute). Its discharges that sample one
    # sample wide are kept, the glitch train of its size is not (main: 11 of 54 glitches
    # were fasciculations, 5.0 false a minute; then 6, 2.5; now 4, 1.5).
    rec, truth = simulate(scenario="glitches", seed=6)
    ev = detect(rec).events
    fas = ev[ev["trial_type"] == "fasciculation"]
    tf = truth[(truth["trial_type"] == "fasciculation") & (truth["snr"] >= 5.0)]
    unit = tf[tf["unit"] == 0]
    assert 20.0 <= np.median(unit["peak_amplitude_uv"]) <= 30.0
    _, found = match_times(fas["peak_time"], unit["peak_time"], 0.01)
    assert found.size >= 0.9 * unit.size, (found.size, unit.size)
    glitch_t = truth["peak_time"][truth["artifact_kind"] == "glitch"]
    as_fasc, _ = match_times(fas["peak_time"], glitch_t, 0.01)
    assert as_fasc.size <= 0.1 * glitch_t.size, (as_fasc.size, glitch_t.size)


def test_glitches_of_a_glitch_sized_units_size_need_its_template():
    # Tuning seed 9 of the 200-Hz board: on EHL_R a unit of glitch size (median 24 µV,
    # 81 discharges at >= 5 sigmas) fires beside 14 glitches of either polarity. Its
    # size and polarity vouched for 7 of them on main (2479e7d); judged by its
    # template (the best of its narrow samples' shapes against a one-sample spike) 3,
    # and 77 of its discharges are found (main 78).
    rec, truth = simulate(scenario="glitches", seed=9)
    ev = detect(rec).events
    fas = ev[(ev["trial_type"] == "fasciculation") & (ev["channel"] == "EMG EHL_R")]
    on = truth["channel"] == "EMG EHL_R"
    glitch_t = truth["peak_time"][on & (truth["artifact_kind"] == "glitch")]
    as_fasc, _ = match_times(fas["peak_time"], glitch_t, 0.01)
    assert as_fasc.size <= 4, (as_fasc.size, glitch_t.size)
    tf = truth[on & (truth["trial_type"] == "fasciculation") & (truth["snr"] >= 5.0)]
    _, found = match_times(fas["peak_time"], tf["peak_time"], 0.01)
    assert found.size >= 75, (found.size, tf.size)


def test_step_noise_is_the_raw_white_noise_whatever_the_baseline():
    # The glitch test's noise: second differences of the raw samples, so neither a DC
    # offset, a slope nor slow wander enters it; one floor per noise segment, from
    # 1024-sample subsamples of each window, is within a few per cent of the truth.
    from fascidetect.noise import segment_floors, step_window_sigmas

    rng = np.random.default_rng(4)
    n, window, segment = 24000, 400, 4000
    t = np.arange(n) / FS
    white = rng.normal(0.0, 3e-6, (2, n))
    raw = white + np.array([[20e-3], [-5e-3]]) + 100e-6 * np.sin(2 * np.pi * 0.3 * t) \
        + 2e-6 * np.arange(n)[None, :] / FS
    floors = segment_floors(lambda i0, i1: step_window_sigmas(raw, i0, i1, window), n,
                            window, segment, 10.0)
    assert floors.shape == (2, n // segment)
    assert np.all(np.abs(floors / 3e-6 - 1.0) < 0.1), floors / 3e-6
    # A burst filling one window of a segment leaves that segment's floor where it was.
    raw[:, 4000:4400] += rng.normal(0.0, 30e-6, (2, 400))
    again = segment_floors(lambda i0, i1: step_window_sigmas(raw, i0, i1, window), n,
                           window, segment, 10.0)
    assert np.all(np.abs(again / 3e-6 - 1.0) < 0.1), again / 3e-6


def test_shape_rows_gathered_on_demand_equal_the_stacked_columns():
    # The rules gather the shapes of the rows they compare (bounded memory on a day's
    # candidates); each gather must equal indexing the full float64 stack.
    from fascidetect.glitches import _shapes

    rng = np.random.default_rng(3)
    n = 50
    features = {f"spike_beside_{j:+d}": rng.normal(size=n).astype(np.float32)
                for j in SHAPE_OFFSETS}
    full = np.stack([features[f"spike_beside_{j:+d}"].astype(float) for j in SHAPE_OFFSETS],
                    axis=1)
    rows = _shapes(features)
    one_d = np.array([4, 0, 49, 4])
    two_d = rng.integers(0, n, size=(7, 5))
    np.testing.assert_array_equal(rows[one_d], full[one_d])
    np.testing.assert_array_equal(rows[two_d], full[two_d])
    assert rows[two_d].dtype == np.float64
    assert _shapes({"spike_beside_-1": features["spike_beside_-1"]}) is None
