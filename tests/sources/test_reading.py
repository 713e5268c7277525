"""Sources record and report how they read their data (issue #21)."""

import logging

import numpy as np
import pytest

from sk_brainjepa.sources import ScaledSource, as_source

READER = "sk_brainjepa._utils._reading"


def test_as_source_records_the_layout_and_logs_the_reading_once(cohort, caplog):
    with caplog.at_level(logging.INFO, logger=READER):
        source = as_source(list(cohort.transpose(0, 2, 1)), layout="time_x_rois")
    assert source.layout == "time_x_rois" and source.n_rois == 5
    assert caplog.messages == [
        "read 6 subjects as (n_rois=5, n_timepoints=48) with layout='time_x_rois'"
    ]
    assert ScaledSource(source, lambda x: x).layout == "time_x_rois"
    assert as_source(cohort).layout == "rois_x_time"


def test_lazy_sources_log_the_reading(tmp_path, cohort, caplog):
    for i, x in enumerate(cohort):
        np.save(tmp_path / f"sub-{i:02d}.npy", x.T)
    with caplog.at_level(logging.INFO, logger=READER):
        source = as_source(tmp_path, layout="time_x_rois")
    assert source.n_rois == 5
    assert (
        "read 6 subjects as (n_rois=5, n_timepoints=48) with layout='time_x_rois'"
        in caplog.messages
    )


def test_check_lengths_says_how_the_subjects_were_read(cohort):
    source = as_source(list(cohort.transpose(0, 2, 1)), layout="time_x_rois")
    with pytest.raises(
        ValueError,
        match=r"^X\[0\] has 48 time points, fewer than the model window "
        r"n_timepoints=64 \(6 subjects are\); subjects were read as \(n_rois=5, "
        r"n_timepoints=48\) with layout='time_x_rois'\. If each subject is "
        r"\(n_rois, n_timepoints\), pass layout='rois_x_time'\. Otherwise pad",
    ):
        source.check_lengths(64)


def test_check_n_rois_names_the_source_layout(cohort):
    source = as_source(cohort)  # 5 ROIs x 48 frames
    with pytest.raises(
        ValueError, match=r"looks transposed.*Pass layout='time_x_rois' if each"
    ):
        source.check_n_rois(48, "the model")


def test_as_source_refuses_a_generator(cohort):
    with pytest.raises(TypeError, match=r"^X is a generator .*not accepted"):
        as_source(x for x in cohort)
