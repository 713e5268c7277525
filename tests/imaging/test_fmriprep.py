"""load_fmriprep: runs found by entity, TRs aligned, ids and phenotypes joined."""

import shutil

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("nilearn")

from sk_brainjepa.datasets import Cohort  # noqa: E402
from sk_brainjepa.imaging import (  # noqa: E402
    find_fmriprep_runs,
    load_fmriprep,
    make_fmriprep_derivatives,
)

RAW = {"standardize": False}


def test_cohort_ids_and_phenotypes_line_up(derivatives):
    d = derivatives
    cohort = load_fmriprep(
        d["root"],
        d["atlas"],
        labels=d["labels"],
        confounds_strategy=None,
        extractor_params=RAW,
    )
    assert isinstance(cohort, Cohort)
    assert cohort.X.shape == (4, 5, 40) and cohort.X.dtype == np.float32
    assert cohort.subject_ids == ["sub-01", "sub-02", "sub-03", "sub-04"]
    assert_allclose(cohort.X, 100 + d["signals"], rtol=1e-5)
    table = pd.read_csv(d["participants"], sep="\t", index_col="participant_id")
    assert list(cohort.phenotypes.index) == cohort.subject_ids
    assert_allclose(cohort.phenotypes["age"], table.loc[cohort.subject_ids, "age"])


def test_default_denoising_and_no_phenotypes(derivatives):
    d = derivatives
    X, ids, pheno = load_fmriprep(
        d["root"], d["atlas"], task="rest", space="MNI", phenotypes=None, verbose=1
    )
    assert X.shape == (4, 5, 40) and pheno is None
    assert_allclose(X.mean(axis=2), 0, atol=1e-4)


def test_runs_at_different_trs_are_resampled(tmp_path):
    d = make_fmriprep_derivatives(
        tmp_path, n_subjects=2, t_rs=(1.0, 2.0), random_state=0
    )
    X, ids, _ = load_fmriprep(
        d["root"], d["atlas"], confounds_strategy=None, extractor_params=RAW
    )
    # The largest TR is the target: the TR-1 s run keeps every second frame.
    assert [x.shape for x in X] == [(5, 20), (5, 40)]
    assert_allclose(X[0], 100 + d["signals"][0][:, ::2], rtol=1e-5)
    assert_allclose(X[1], 100 + d["signals"][1], rtol=1e-5)
    X, _, _ = load_fmriprep(
        d["root"],
        d["atlas"],
        confounds_strategy=None,
        target_tr=2.0,
        n_timepoints=16,
        extractor_params=RAW,
    )
    assert X.shape == (2, 5, 16)


def test_several_runs_per_subject_get_run_ids(tmp_path):
    d = make_fmriprep_derivatives(tmp_path, n_subjects=2, random_state=0)
    func = d["root"] / "sub-01" / "func"
    for src in list(func.iterdir()):
        shutil.copy(src, func / src.name.replace("task-rest_", "task-rest_run-2_"))
        src.rename(func / src.name.replace("task-rest_", "task-rest_run-1_"))
    X, ids, pheno = load_fmriprep(d["root"], d["atlas"])
    assert ids == ["sub-01_run-1", "sub-01_run-2", "sub-02"]
    assert list(pheno["age"]) == list(
        pheno.loc[["sub-01_run-1"] * 2 + ["sub-02"], "age"]
    )
    assert find_fmriprep_runs(d["root"], run=2)[0].name.startswith(
        "sub-01_task-rest_run-2"
    )
    _, ids, _ = load_fmriprep(d["root"], d["atlas"], run="01")
    assert ids == ["sub-01"]


def test_participants_found_in_the_bids_root(tmp_path):
    root = tmp_path / "bids" / "derivatives" / "fmriprep"
    d = make_fmriprep_derivatives(root, n_subjects=2, random_state=0)
    d["participants"].rename(tmp_path / "bids" / "participants.tsv")
    _, ids, pheno = load_fmriprep(root, d["atlas"], confounds_strategy=None)
    assert list(pheno.index) == ids == ["sub-01", "sub-02"]


def test_no_matching_run_names_folder_and_filters(derivatives, tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"No fMRIPrep run .* with task='motor'"
    ):
        load_fmriprep(derivatives["root"], derivatives["atlas"], task="motor")
    with pytest.raises(FileNotFoundError, match=f"in {tmp_path}"):
        load_fmriprep(tmp_path, derivatives["atlas"])


def test_extractor_params_cannot_override_own_arguments(derivatives):
    with pytest.raises(ValueError, match=r"cannot set \['layout'\]"):
        load_fmriprep(
            derivatives["root"],
            derivatives["atlas"],
            extractor_params={"layout": "time_x_rois"},
        )


def _two_runs_each(root):
    """Give every subject of a synthetic tree a second run (run-1, run-2)."""
    for func in sorted(root.glob("sub-*/func")):
        for src in list(func.iterdir()):
            shutil.copy(src, func / src.name.replace("task-rest_", "task-rest_run-2_"))
            src.rename(func / src.name.replace("task-rest_", "task-rest_run-1_"))


def test_every_run_knows_its_participant(tmp_path):
    d = make_fmriprep_derivatives(tmp_path, n_subjects=3, random_state=0)
    _two_runs_each(d["root"])
    cohort = load_fmriprep(d["root"], d["atlas"], confounds_strategy=None)
    X, ids, pheno = cohort  # still a 3-tuple
    assert ids[:2] == ["sub-01_run-1", "sub-01_run-2"] and len(ids) == 6
    expected = ["sub-01", "sub-01", "sub-02", "sub-02", "sub-03", "sub-03"]
    assert cohort.participant_ids == expected
    assert list(pheno["participant_id"]) == expected
    assert pheno.index.name == "subject_id" and list(pheno.index) == ids
    # One groupby per participant works (no index/column name clash).
    assert pheno.groupby("participant_id")["age"].nunique().eq(1).all()
    # Without a table the participants are still there.
    without = load_fmriprep(
        d["root"], d["atlas"], confounds_strategy=None, phenotypes=None
    )
    assert without.phenotypes is None and without.participant_ids == expected
    # One run each: the participant is the id.
    single = make_fmriprep_derivatives(tmp_path / "one", n_subjects=2, random_state=0)
    one = load_fmriprep(single["root"], single["atlas"], confounds_strategy=None)
    assert one.participant_ids == one.subject_ids == ["sub-01", "sub-02"]


def test_linear_probe_keeps_each_participant_on_one_side(tmp_path, monkeypatch):
    from sk_brainjepa import BrainJEPAPretrainer, linear_probe
    from sk_brainjepa.model_selection import _probe
    from sk_brainjepa.preprocessing import SubjectRobustScaler

    d = make_fmriprep_derivatives(tmp_path, n_subjects=10, random_state=0)
    _two_runs_each(d["root"])
    X, ids, pheno = load_fmriprep(d["root"], d["atlas"], confounds_strategy=None)
    X = SubjectRobustScaler().fit_transform(X)
    model = BrainJEPAPretrainer(
        "tiny", window_length=32, max_epochs=1, batch_size=10, random_state=0
    ).fit(X)
    used = []
    probe_one = _probe._probe_one

    def spy(features, y, split, *args):
        used.append(split)
        return probe_one(features, y, split, *args)

    monkeypatch.setattr(_probe, "_probe_one", spy)
    groups = pheno["participant_id"].to_numpy()
    table = linear_probe(
        model,
        X,
        pheno["age"],
        task="regression",
        groups=groups,
        n_repeats=3,
        random_state=0,
    )
    assert len(used) == 3 and list(table.index[:3]) == [0, 1, 2]
    for train, val, test in used:
        sides = [set(groups[part]) for part in (train, val, test)]
        assert not sides[0] & sides[2] and not sides[1] & sides[2]
        assert not sides[0] & sides[1]
        # Whole participants: both runs of each on the same side.
        assert len(test) == 2 * len(sides[2])
