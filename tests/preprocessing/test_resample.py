"""TemporalResampler: strides, interpolation, crops and padding."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa.preprocessing import TemporalResampler


# -------------------------------------------------------------- TemporalResampler
def test_resampler_stride_takes_every_kth_frame():
    x = np.arange(30, dtype=np.float64)[None, None, :].repeat(2, axis=1)
    out = TemporalResampler(tr=1.0, target_tr=3.0, n_timepoints=None).fit_transform(x)
    assert_array_equal(out[0, 0], np.arange(0, 30, 3))


def test_resampler_official_ukb_geometry():
    # UKB: 490 frames at TR 0.735 s -> 160 frames, every third frame.
    x = np.arange(490, dtype=np.float32)[None, None, :]
    out = TemporalResampler(tr=0.735, target_tr=3 * 0.735, crop="start").fit_transform(
        x
    )
    assert out.shape == (1, 1, 160)
    assert_array_equal(out[0, 0], np.arange(0, 480, 3))


def test_resampler_interpolate_is_linear():
    x = np.arange(20, dtype=np.float64)[None, None, :] * 2.0
    out = TemporalResampler(
        tr=1.0, target_tr=1.5, method="interpolate", n_timepoints=None
    ).fit_transform(x)
    assert_allclose(out[0, 0], 2.0 * np.arange(0, 19.0 + 1e-9, 1.5))


@pytest.mark.parametrize("crop, first", [("start", 0.0), ("center", 20.0)])
def test_resampler_crop_positions(crop, first):
    x = np.arange(100, dtype=np.float64)[None, None, :]
    out = TemporalResampler(n_timepoints=60, crop=crop).fit_transform(x)
    assert out[0, 0, 0] == first
    assert_array_equal(np.diff(out[0, 0]), 1.0)


def test_resampler_random_crop_is_seeded():
    x = np.tile(np.arange(200, dtype=np.float64), (6, 2, 1))
    a = TemporalResampler(n_timepoints=50, crop="random", random_state=0).fit_transform(
        x
    )
    b = TemporalResampler(n_timepoints=50, crop="random", random_state=0).fit_transform(
        x
    )
    c = TemporalResampler(n_timepoints=50, crop="random", random_state=1).fit_transform(
        x
    )
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Subjects get different windows, each a contiguous run.
    assert len(set(a[:, 0, 0])) > 1
    assert_array_equal(np.diff(a[:, 0], axis=1), 1.0)


@pytest.mark.parametrize("pad, tail", [("constant", 0.0), ("edge", 9.0)])
def test_resampler_pads_short_runs(pad, tail):
    x = np.arange(1, 11, dtype=np.float64)[None, None, :] - 1  # 0..9
    out = TemporalResampler(n_timepoints=15, pad=pad).fit_transform(x)
    assert out.shape == (1, 1, 15)
    assert_array_equal(out[0, 0, 10:], tail)


def test_resampler_pad_error_names_lengths():
    x = np.zeros((1, 2, 10))
    with pytest.raises(ValueError, match="gives 10 frames.*n_timepoints=15"):
        TemporalResampler(n_timepoints=15, pad="error").fit_transform(x)


def test_resampler_ragged_input_becomes_array_when_cropped():
    ragged = [np.zeros((3, 200)), np.ones((3, 170))]
    out = TemporalResampler(n_timepoints=160).fit_transform(ragged)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 160)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tr": -1.0}, "'tr' parameter of TemporalResampler must be"),
        ({"target_tr": 0}, "'target_tr' parameter of TemporalResampler must be"),
        ({"method": "cubic"}, "'method' parameter of TemporalResampler must be"),
        ({"crop": "end"}, "'crop' parameter of TemporalResampler must be"),
        ({"n_timepoints": 0}, "'n_timepoints' parameter of TemporalResampler"),
        ({"n_timepoints": 16.0}, "'n_timepoints' parameter of TemporalResampler"),
    ],
)
def test_resampler_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        TemporalResampler(**params).fit(np.zeros((1, 2, 10)))
