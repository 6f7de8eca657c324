"""Rest or activity per channel and window (fascidetect.rest): synthetic noise, sparse
discharges, low-level interference patterns, and the real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from fascidetect.params import DetectionParams
from fascidetect.preprocessing import design_filter, filter_emg
from fascidetect.rest import (FloorShape, _trimmed_constants, active_windows,
                              effective_samples, in_active_windows, pooled_noise_like,
                              rest_seconds, robust_difference_share, with_hysteresis,
                              white_difference_share)
from conftest import muap

PARAMS = DetectionParams()


def _noise(fs, seconds, n_channels, rng):
    """Band-passed white noise of unit sigma (the detector's filter)."""
    x = filter_emg(rng.standard_normal((n_channels, int(fs * seconds))), design_filter(fs, PARAMS))
    return x / (np.median(np.abs(x), axis=1, keepdims=True) / 0.6745)


def _interference(fs, seconds, n_channels, rng, n_units=12, rate_hz=10.0):
    """A low-level interference pattern: many units firing at ~10 Hz (CV 0.2), summed."""
    n = int(fs * seconds)
    out = np.zeros((n_channels, n))
    wave = muap(fs, p2p_v=1.0, phases=3)
    for u in range(n_units):  # a dozen units
        iv = np.clip(rng.normal(1 / rate_hz, 0.2 / rate_hz, int(seconds * rate_hz * 2)), 0.02, None)
        idx = (np.cumsum(iv) * fs).astype(int)
        idx = idx[idx < n - wave.size]
        train = np.zeros(n)
        train[idx] = rng.uniform(0.5, 1.5, idx.size)
        out += np.convolve(train, wave, mode="same")[None, :] * rng.uniform(0.5, 1.0, (n_channels, 1))
    return filter_emg(out, design_filter(fs, PARAMS))


@pytest.mark.parametrize("fs", [200.0, 250.0, 2048.0])
def test_null_spread_matches_the_effective_samples(fs):
    rng = np.random.default_rng(int(fs))
    x = _noise(fs, 300.0, 4, rng)
    active, ratio, thr = active_windows(x, fs, np.ones(4), band_hz=PARAMS.band_for(fs))
    band = PARAMS.band_for(fs)
    predicted = _trimmed_constants(0.1)[1] / np.sqrt(effective_samples(fs, fs, band))
    # The bound is conservative: the measured spread is at most it and not far below.
    assert 0.75 * predicted <= ratio.std() <= 1.1 * predicted
    assert not active.any()
    assert abs(np.median(ratio) - 1.0) < 0.02


def test_trimmed_constants():
    c, k = _trimmed_constants(0.0)
    assert c == 1.0 and k == pytest.approx(np.sqrt(0.5))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 500))
    a = np.sort(np.abs(x), axis=1)[:, :450]
    est = np.sqrt((a ** 2).mean(axis=1) / _trimmed_constants(0.1)[0])
    assert est.mean() == pytest.approx(1.0, abs=0.01)
    assert est.std() * np.sqrt(500) == pytest.approx(_trimmed_constants(0.1)[1], rel=0.1)


@pytest.mark.parametrize("fs", [200.0, 2048.0])
def test_sparse_discharges_do_not_make_windows_active(fs):
    rng = np.random.default_rng(1)
    x = _noise(fs, 60.0, 2, rng)
    wave = muap(fs, p2p_v=20.0, phases=3)  # 20 sigma potentials
    # Channel 0: fasciculations at 60/min; channel 1: one sparse unit at 2 Hz.
    for ch, rate in ((0, 1.0), (1, 2.0)):
        for t in np.sort(rng.uniform(0.5, 59.5, int(60 * rate))):  # test setup
            i = int(t * fs)
            x[ch, i:i + wave.size] += wave
    active, ratio, _ = active_windows(x, fs, np.ones(2), band_hz=PARAMS.band_for(fs))
    assert active.mean() <= 0.02
    # The plain RMS (no trimming) would call most of these windows active.
    plain, _, _ = active_windows(x, fs, np.ones(2), band_hz=PARAMS.band_for(fs), trim_fraction=0.0)
    assert plain.mean() > 0.3


@pytest.mark.parametrize("fs, level, need", [(2048.0, 1.3, 0.95), (2048.0, 2.0, 1.0),
                                             (200.0, 1.5, 0.9), (200.0, 2.0, 1.0),
                                             (250.0, 1.5, 0.9)])
def test_low_level_interference_pattern_is_active(fs, level, need):
    rng = np.random.default_rng(2)
    noise = _noise(fs, 40.0, 2, rng)
    act = _interference(fs, 40.0, 2, rng)
    # Scale the pattern so the total background is `level` x the floor.
    act *= np.sqrt(level ** 2 - 1.0) / act.std(axis=1, keepdims=True)
    x = noise.copy()
    x[:, 20 * int(fs):] += act[:, 20 * int(fs):]
    active, ratio, _ = active_windows(x, fs, np.ones(2), band_hz=PARAMS.band_for(fs))
    assert active[:, :20].mean() <= 0.05
    assert active[:, 20:].mean() >= need


def _pink_floor(fs, seconds, n_channels, rng, pink_share=0.6):
    """Band-passed white + 1/f electrode noise (``pink_share`` of the in-band power)."""
    n = int(fs * seconds)
    f = np.fft.rfftfreq(n, 1 / fs)
    f[0] = f[1]
    spec = rng.standard_normal((n_channels, f.size)) + 1j * rng.standard_normal((n_channels, f.size))
    sos = design_filter(fs, PARAMS)
    white = filter_emg(np.fft.irfft(spec, n), sos)
    pink = filter_emg(np.fft.irfft(spec / np.sqrt(f), n), sos)
    x = (np.sqrt(1 - pink_share) * white / white.std(axis=1, keepdims=True)
         + np.sqrt(pink_share) * pink / pink.std(axis=1, keepdims=True))
    return x / x.std(axis=1, keepdims=True)


@pytest.mark.parametrize("fs, need", [(1000.0, 0.5), (2048.0, 0.95)])
def test_rising_electrode_noise_with_a_1_over_f_floor_is_rest(fs, need):
    # Electrode noise that is partly 1/f (lower in the band than white noise) and drifts
    # up to 1.4x its floor is still rest once the floor's own difference share is known;
    # with the floor taken as white, the rise read as muscle activity. An interference
    # pattern on the same floor stays activity (at 1 kHz this pattern's energy sits
    # almost as high in the band as white noise's: about as many windows as on a white
    # floor, 0.70-0.82 at 1.3-2x).
    rng = np.random.default_rng(5)
    floor = _pink_floor(fs, 40.0, 2, rng)
    sigma = np.median(np.abs(floor[:, : 20 * int(fs)]), axis=1) / 0.6745
    drift = floor.copy()
    drift[:, 20 * int(fs):] *= 1.4
    act = _interference(fs, 40.0, 2, rng)
    act *= np.sqrt(1.5 ** 2 - 1.0) / act.std(axis=1, keepdims=True)
    busy = floor.copy()
    busy[:, 20 * int(fs):] += act[:, 20 * int(fs):]
    white = np.full(2, white_difference_share(design_filter(fs, PARAMS), fs))
    own = FloorShape(white, robust_difference_share(floor[:, : 20 * int(fs)]))
    assert (own.measured < 0.9 * white).all()  # the floor is not white

    def judge(x, shape):
        return active_windows(x, fs, sigma, band_hz=PARAMS.band_for(fs), trim_fraction=0.0,
                              exclude=np.zeros(x.shape, bool), floor_shape=shape,
                              max_shape_share=PARAMS.rest_max_shape_share)[0]
    assert judge(drift, white)[:, 20:].mean() >= 0.9  # the old reading: activity
    assert judge(drift, own)[:, 20:].mean() <= 0.05
    assert judge(drift, own)[:, :20].mean() <= 0.05
    assert judge(busy, own)[:, 20:].mean() >= need


def _semg_like(fs, seconds, n_channels, rng, f_low=60.0, f_high=120.0):
    """Gaussian noise with a surface-EMG spectrum (Shwedyk et al. 1977 shape: rising from
    ``f_low``, falling past ``f_high``), band-passed, unit RMS: a dense interference
    pattern."""
    n = int(fs * seconds)
    f = np.fft.rfftfreq(n, 1 / fs)
    shape = f_high ** 4 * f ** 2 / ((f ** 2 + f_low ** 2) * (f ** 2 + f_high ** 2) ** 2)
    spec = rng.standard_normal((n_channels, f.size)) + 1j * rng.standard_normal((n_channels, f.size))
    x = filter_emg(np.fft.irfft(spec * np.sqrt(shape), n), design_filter(fs, PARAMS))
    return x / x.std(axis=1, keepdims=True)


@pytest.mark.parametrize("fs", [1000.0, 2048.0])
def test_small_drift_is_rest_when_the_shape_is_pooled_over_neighbouring_rises(fs):
    # A 1.2-1.25x rise of a 1/f-heavy floor: one window's difference share is noisy at so
    # small a rise and falls under the limit in some windows (activity by chance, a
    # fasciculation there lost as not_at_rest); pooled with its neighbouring rises (as
    # the detector judges it) it is rest. An interference pattern with a surface-EMG
    # spectrum (60-120 Hz and 80-160 Hz shapes) on the same floor stays active.
    rng = np.random.default_rng(7)
    n20 = 20 * int(fs)
    floor = _pink_floor(fs, 80.0, 4, rng, pink_share=0.6)
    sigma = np.median(np.abs(floor[:, :n20]), axis=1) / 0.6745
    white = np.full(4, white_difference_share(design_filter(fs, PARAMS), fs))
    # The floor's share from all of its 20 s (the detector's: a median over its quiet
    # noise windows); a small rise is judged against it, so it must be accurate.
    own = FloorShape(white, robust_difference_share(floor[:, :n20], max_samples=n20))

    def judge(x, pooled):
        out = active_windows(x, fs, sigma, band_hz=PARAMS.band_for(fs), trim_fraction=0.0,
                             exclude=np.zeros(x.shape, bool), floor_shape=own,
                             max_shape_share=PARAMS.rest_max_shape_share,
                             shape_z=PARAMS.rest_shape_z, shape_scores=pooled)
        return out[0][:, 20:]
    drift = floor.copy()
    drift[:, n20:] *= np.repeat([1.2, 1.25, 1.2], n20)[: floor.shape[1] - n20]
    assert judge(drift, False).mean() >= 0.05  # one window at a time: 0.08-0.11 active
    assert judge(drift, True).mean() <= 0.3 * judge(drift, False).mean()  # 0.02
    for f_low, f_high in ((60.0, 120.0), (80.0, 160.0)):
        act = _semg_like(fs, 80.0, 4, rng, f_low, f_high)
        for level, need in ((1.3, 0.9), (1.5, 0.95)):
            busy = floor + np.sqrt(level ** 2 - 1.0) * act * (np.arange(floor.shape[1]) >= n20)
            assert judge(busy, True).mean() >= need
            assert judge(busy, True).mean() >= judge(busy, False).mean() - 0.02


def test_pooled_shape_decision_matches_the_stages_reading():
    # with_hysteresis (the stages' reading of the scan's rows) applies the same pooled
    # decision as active_windows(shape_scores=True).
    rng = np.random.default_rng(3)
    fs = 2048.0
    floor = _pink_floor(fs, 30.0, 2, rng)
    sigma = np.median(np.abs(floor[:, : 10 * int(fs)]), axis=1) / 0.6745
    white = np.full(2, white_difference_share(design_filter(fs, PARAMS), fs))
    own = FloorShape(white, robust_difference_share(floor[:, : 10 * int(fs)]))
    x = floor.copy()
    x[:, 10 * int(fs):] *= 1.3
    x[1, 20 * int(fs):] += 0.9 * _semg_like(fs, 10.0, 1, rng)[0]
    active, ratio, thr, score = active_windows(
        x, fs, sigma, band_hz=PARAMS.band_for(fs), trim_fraction=0.0,
        exclude=np.zeros(x.shape, bool), floor_shape=own, max_shape_share=0.6,
        shape_scores=True)
    assert np.isnan(score[:, :10]).mean() > 0.3  # rises only are scored
    assert (ratio[:, 10:] > 1.2).all()  # the ratio is as measured
    assert with_hysteresis(ratio, thr, 1.0, shape_score=score, shape_z=0.0).tolist() == \
        active.tolist()
    assert not active[0].any() and active[1, 21:].all()
    assert pooled_noise_like(score[:, :10]).sum() <= np.isfinite(score[:, :10]).sum()


def test_rest_seconds_and_discharges_in_active_windows():
    active = np.array([[False, True, True, False], [False, False, False, False]])
    assert np.allclose(rest_seconds(active, 100.0, 380), [1.8, 3.8])
    assert np.allclose(rest_seconds(active, 100.0, 380, excluded=[True, False, False, False]),
                       [0.8, 2.8])
    t = np.array([0.5, 1.2, 2.5, 3.7, 1.2])
    assert in_active_windows(t, [0, 0, 0, 0, 1], active).tolist() == \
        [False, True, True, False, False]


def test_partial_last_window():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 1000 * 5 + 300))  # 5.3 s at 1 kHz: the tail joins window 5
    a, r, thr = active_windows(x, 1000.0, [1.0], band_hz=(0.0, 500.0))
    assert a.shape == (1, 5)
    x = rng.standard_normal((1, 1000 * 5 + 700))  # 5.7 s: the tail is its own window
    a, r, thr = active_windows(x, 1000.0, [1.0], band_hz=(0.0, 500.0))
    assert a.shape == (1, 6) and thr[-1] >= thr[0]
    assert rest_seconds(a, 1000.0, x.shape[1]).sum() == pytest.approx(5.7)


def test_bad_input():
    with pytest.raises(ValueError, match="noise_sigma has 1 values for 2 channels"):
        active_windows(np.zeros((2, 100)), 100.0, [1.0])
    with pytest.raises(ValueError, match="n_channels, n_samples"):
        active_windows(np.zeros(100), 100.0, [1.0])
    a, r, _ = active_windows(np.ones((1, 300)), 100.0, [0.0])  # a channel without floor
    assert not a.any() and np.isnan(r).all()


# ---------------------------------------------------------------------- real recordings
def _real(path_or_rec):
    import fascidetect
    from fascidetect.plot.traces import filtered_window

    rec = fascidetect.read(path_or_rec) if not hasattr(path_or_rec, "sfreq") else path_or_rec
    res = fascidetect.detect(rec)
    _, filt, names = filtered_window(rec, res, 0.0, rec.n_samples / rec.sfreq)
    sigma = np.array([c["noise_sigma_uv"] for c in res.channels])
    active, ratio, _ = active_windows(filt, rec.sfreq, sigma, band_hz=res.params.band_for(rec.sfreq))
    ev = res.events
    fasc = ev[ev["trial_type"] == "fasciculation"]
    ch = np.array([names.index(c) for c in fasc["channel"]], dtype=int)
    return rec, active, in_active_windows(fasc["peak_time"], ch, active)


@pytest.mark.parametrize("name", ["S02", "S05"])
def test_ganglion_rest_files_are_rest(shared_data, name):
    rec, active, _ = _real(shared_data / "openbci-mi-emg-ganglion" / f"OpenBCI-RAW-{name}_S1REST.txt")
    rest = rest_seconds(active, rec.sfreq, rec.n_samples)
    assert (rest >= 0.95 * rec.n_samples / rec.sfreq).all()


def test_needle_contraction_is_not_rest(shared_data):
    rec, active, _ = _real(shared_data / "physionet-emgdb" / "emg_healthy.hea")
    assert active.mean() >= 0.9


def test_hd_semg_ramp_is_not_rest(shared_data):
    import scipy.io as sio
    from fascidetect._inputs import as_recording

    m = sio.loadmat(shared_data / "openhdemg-otb-sample" / "otb_testfile.mat")
    data = m["Data"][0, 0] if m["Data"].dtype == object else m["Data"]
    rec = as_recording(data[:, :64].T.astype(float) * 1e-6, 2048.0,
                       [f"ch{i + 1}" for i in range(64)], None)
    rec, active, inside = _real(rec)
    force = data[:, 74]
    win_force = force[np.minimum((np.arange(active.shape[1]) + 0.5) * 2048, force.size - 1)
                      .astype(int)]
    # Every window above 5 % MVC is active on every channel.
    assert active[:, win_force > 5].all()
    # Only the derecruitment tail just after the last active window is left (4 of 54).
    assert (~inside).sum() <= 4


def _sparse_unit(fs, seconds, n_channels, rng, rate_hz=10.0):
    """One unit firing regularly (10 Hz, CV 0.15), band-passed: sparse low-level firing."""
    n = int(fs * seconds)
    wave = muap(fs, p2p_v=1.0, phases=3)
    iv = np.clip(rng.normal(1 / rate_hz, 0.15 / rate_hz, int(seconds * rate_hz * 2)), 0.02, None)
    idx = (np.cumsum(iv) * fs).astype(int)
    idx = idx[idx < n - wave.size]
    train = np.zeros(n)
    train[idx] = rng.uniform(0.9, 1.1, idx.size)
    out = np.convolve(train, wave, mode="same")[None, :] * rng.uniform(0.5, 1.0, (n_channels, 1))
    return filter_emg(out, design_filter(fs, PARAMS))


@pytest.mark.parametrize("fs", [200.0, 250.0, 500.0])
def test_narrow_band_rise_is_judged_by_its_tails(fs):
    # Under the spectral test's band (fs < ~670 Hz) a rise of the background was activity
    # whatever it was. A Gaussian floor that drifts 1.25-1.4x is now rest (its kurtosis
    # stays 3), while one sub-threshold unit raising the background 1.3x (peaks about 3-5
    # sigma: heavy-tailed) stays activity, and a 2x rise is activity whatever its
    # distribution (a dense interference pattern is Gaussian too).
    rng = np.random.default_rng(11)
    n20 = 20 * int(fs)
    floor = _pink_floor(fs, 80.0, 4, rng, pink_share=0.5)
    sigma = np.median(np.abs(floor[:, :n20]), axis=1) / 0.6745
    after = np.arange(floor.shape[1]) >= n20

    def judge(x, tails=True):
        out = active_windows(x, fs, sigma, band_hz=PARAMS.band_for(fs), trim_fraction=0.0,
                             exclude=np.zeros(x.shape, bool), shape_scores=True,
                             tail_max_ratio=PARAMS.rest_tail_max_ratio if tails else None,
                             shape_z=PARAMS.rest_pooled_z(PARAMS.band_for(fs)))
        return out[0][:, 20:].mean()
    assert PARAMS.band_for(fs)[1] < PARAMS.rest_shape_min_band_hz  # no spectral test
    for level in (1.25, 1.4):
        drift = floor * np.where(after, level, 1.0)
        assert judge(drift, tails=False) >= 0.5  # the old reading: 0.53-1.0 active
        assert judge(drift) <= 0.05  # 0.0-0.02
    unit = _sparse_unit(fs, 80.0, 4, rng)
    unit *= np.sqrt(1.3 ** 2 - 1.0) / unit.std(axis=1, keepdims=True)
    assert judge(floor + unit * after) >= 0.6  # 0.70-0.98
    dense = np.sqrt(2.0 ** 2 - 1.0) * _semg_like(fs, 80.0, 4, rng)
    assert judge(floor + dense * after) >= 0.95


def test_a_noise_like_rise_joins_an_active_run_with_noise_joins():
    # The tail test's single windows are noisy at 200-250 Hz: a Gaussian-looking window
    # inside a burst must stay with the burst (it may not start a run of its own).
    # A floor drifted up beside the burst joins it by one window only.
    ratio = np.array([[1.0, 1.3, 1.8, 1.3, 1.3, 1.3, 1.0, 1.3, 1.0]])
    nan = np.nan
    score = np.array([[nan, 0.5, nan, 0.5, 0.5, 0.5, nan, 0.5, nan]])  # noise-like rises
    thr = np.full(ratio.shape[1], 1.25)
    kw = dict(hysteresis=0.5, shape_score=score, shape_z=2.0)
    assert with_hysteresis(ratio, thr, **kw).astype(int).tolist() == \
        [[0, 0, 1, 0, 0, 0, 0, 0, 0]]
    assert with_hysteresis(ratio, thr, noise_joins=1, **kw).astype(int).tolist() == \
        [[0, 1, 1, 1, 0, 0, 0, 0, 0]]
