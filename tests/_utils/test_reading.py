"""How time series were read: the log line and the messages that name ``layout``."""

import logging

import numpy as np
import pytest

from sk_brainjepa._utils._reading import (
    check_not_iterator,
    describe_read,
    layout_hint,
    read_as,
)
from sk_brainjepa._utils._validation import check_n_rois, check_timeseries

READER = "sk_brainjepa._utils._reading"


def test_read_as_shows_lengths_as_a_range_and_the_layout():
    assert read_as(150, 200) == "(n_rois=150, n_timepoints=200)"
    assert (
        read_as(150, [120, 200, 160], "time_x_rois")
        == "(n_rois=150, n_timepoints=120-200) with layout='time_x_rois'"
    )
    assert describe_read(1, 4, 10) == "read 1 subject as (n_rois=4, n_timepoints=10)"


def test_layout_hint_points_to_the_other_layout():
    assert "pass layout='time_x_rois'" in layout_hint("rois_x_time")
    assert "pass layout='rois_x_time'" in layout_hint("time_x_rois")
    assert "check layout" in layout_hint(None)


def test_check_timeseries_logs_every_reading(rng, caplog):
    with caplog.at_level(logging.INFO, logger=READER):
        check_timeseries(rng.standard_normal((3, 5, 20)), layout="rois_x_time")
        check_timeseries([np.zeros((5, 20)), np.zeros((5, 30))])
    assert caplog.messages == [
        "read 3 subjects as (n_rois=5, n_timepoints=20) with layout='rois_x_time'",
        "read 2 subjects as (n_rois=5, n_timepoints=20-30)",
    ]


@pytest.mark.parametrize("stacked", [True, False])
def test_too_few_frames_says_how_the_data_was_read(stacked):
    X = np.zeros((2, 200, 2))
    X = X if stacked else list(X)
    where = r"X" if stacked else r"X\[0\]"
    with pytest.raises(
        ValueError,
        match=rf"^{where} has 2 time points.*at least 3 are needed\. {where} was "
        r"read as \(n_rois=200, n_timepoints=2\) with layout='time_x_rois'\. "
        r"If each subject is \(n_rois, n_timepoints\), pass layout='rois_x_time'",
    ):
        check_timeseries(X, min_timepoints=3, layout="time_x_rois")


def test_different_roi_counts_show_the_shapes_and_name_layout():
    with pytest.raises(
        ValueError,
        match=r"ROI counts \[5, 6\] \(subjects read as \(n_rois, n_timepoints\) "
        r"shapes \[\(5, 20\), \(6, 20\)\] with layout='rois_x_time'\)\. If each "
        r"subject is \(n_timepoints, n_rois\)",
    ):
        check_timeseries([np.zeros((5, 20)), np.zeros((6, 20))], layout="rois_x_time")


@pytest.mark.parametrize(
    "X, what",
    [
        ((np.zeros((3, 4)) for _ in range(2)), "a generator"),
        (iter([np.zeros((3, 4))]), "an iterator"),
        ({1, 2}, "an unordered set"),
        ({"a": np.zeros((3, 4))}.values(), "an unordered dict_values"),
    ],
)
def test_iterators_and_unordered_collections_are_refused(X, what):
    with pytest.raises(TypeError, match=rf"^cohort is {what} .*list\(cohort\)"):
        check_not_iterator(X, "cohort")
    with pytest.raises(TypeError, match="which is not accepted"):
        check_timeseries(X)


def test_arrays_paths_and_lists_are_not_iterators(tmp_path):
    for X in (np.zeros((2, 3, 4)), [np.zeros((3, 4))], "folder", tmp_path):
        check_not_iterator(X)


def test_check_n_rois_names_the_other_layout_when_it_knows_the_current_one():
    with pytest.raises(
        ValueError,
        match=r"X has 40 ROIs and 36 time points, but M expects 36 ROIs: X looks "
        r"transposed \(X was read as \(n_rois=40, n_timepoints=36\) with "
        r"layout='time_x_rois' per subject\)\. Pass layout='rois_x_time' if "
        r"each subject is \(n_rois, n_timepoints\), or transpose X\.",
    ):
        check_n_rois(40, 36, "M", n_timepoints=[36, 36], layout="time_x_rois")
    with pytest.raises(
        ValueError, match=r"looks transposed.*Check layout: subjects are read"
    ):
        check_n_rois(40, 36, "M", n_timepoints=[36])
    with pytest.raises(
        ValueError,
        match=r"^X has 40 ROIs, but M expects 50 ROIs \(X was read as \(n_rois=40, "
        r"n_timepoints=36-80\) per subject\)\. Check the ROI set and the "
        r"layout\. Subjects are read as",
    ):
        check_n_rois(40, 50, "M", n_timepoints=[36, 80])
