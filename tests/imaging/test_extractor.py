"""ROITimeSeriesExtractor: per-label means, confounds, TRs and clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("nilearn")
nib = pytest.importorskip("nibabel")

from sk_brainjepa.imaging import (  # noqa: E402
    ROITimeSeriesExtractor,
    make_fmriprep_derivatives,
    read_repetition_time,
)


def test_extraction_is_the_per_label_mean(derivatives):
    d = derivatives
    ext = ROITimeSeriesExtractor(d["atlas"], d["labels"], standardize=False)
    X = ext.fit_transform(d["bold"][:2])
    assert ext.n_rois_ == 5
    assert ext.labels_ == [f"region_{k}" for k in range(1, 6)]
    assert ext.t_rs_ == [2.0, 2.0]
    atlas = np.asarray(nib.load(d["atlas"]).dataobj)
    for i, x in enumerate(X):
        assert x.dtype == np.float32 and x.shape == (5, 40)
        data = nib.load(d["bold"][i]).get_fdata()
        by_hand = np.stack([data[atlas == k].mean(axis=0) for k in range(1, 6)])
        assert_allclose(x, by_hand, rtol=1e-5)
        assert_allclose(x, 100 + d["signals"][i], rtol=1e-5)


def test_layout_single_image_and_zscore_default(derivatives):
    d = derivatives
    ext = ROITimeSeriesExtractor(d["atlas"], layout="time_x_rois").fit()
    (x,) = ext.transform(d["bold"][0])  # one path -> a list of one
    assert x.shape == (40, 5)
    assert ext.labels_ == ["1", "2", "3", "4", "5"]
    assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    assert_allclose(x.std(axis=0, ddof=1), 1, rtol=1e-4)
    (y,) = ext.transform(nib.load(d["bold"][0]))  # image loaded from a file
    assert_allclose(x, y)


def test_confound_strategy_removes_an_injected_confound(tmp_path):
    d = make_fmriprep_derivatives(
        tmp_path, n_subjects=1, confound_strength=3.0, random_state=1
    )
    confound = d["confound_signals"][0]
    raw = ROITimeSeriesExtractor(d["atlas"], standardize=False).fit_transform(
        d["bold"]
    )[0]
    before = [abs(np.corrcoef(r, confound)[0, 1]) for r in raw]
    assert min(before) > 0.8
    clean = ROITimeSeriesExtractor(
        d["atlas"],
        confounds_strategy=("motion", "wm_csf"),
        confounds_params={"motion": "basic"},
        standardize=False,
    ).fit_transform(d["bold"])[0]
    after = [abs(np.corrcoef(r, confound)[0, 1]) for r in clean]
    assert max(after) < 0.05


def test_t_r_from_sidecar_or_parameter(tmp_path):
    d = make_fmriprep_derivatives(
        tmp_path, n_subjects=2, t_rs=(0.8, 2.5), random_state=0
    )
    assert read_repetition_time(d["bold"][0]) == 0.8
    ext = ROITimeSeriesExtractor(d["atlas"]).fit()
    ext.transform(d["bold"])
    assert ext.t_rs_ == [0.8, 2.5]
    ext.set_params(t_r=1.5).transform(d["bold"])
    assert ext.t_rs_ == [1.5, 1.5]


def test_missing_sidecar_is_one_clear_error(tmp_path):
    d = make_fmriprep_derivatives(tmp_path, n_subjects=1, random_state=0)
    d["sidecars"][0].unlink()
    ext = ROITimeSeriesExtractor(d["atlas"]).fit()
    with pytest.raises(
        ValueError,
        match=r"no RepetitionTime: give t_r= or add "
        r"sub-01_task-rest_space-MNI_desc-preproc_bold\.json",
    ):
        ext.transform(d["bold"])
    in_memory = nib.Nifti1Image(nib.load(d["bold"][0]).get_fdata(), np.eye(4))
    with pytest.raises(ValueError, match="no RepetitionTime"):
        read_repetition_time(in_memory)
    (d["sidecars"][0]).write_text(json.dumps({"TaskName": "rest"}))
    with pytest.raises(ValueError, match="RepetitionTime=None"):
        ext.transform(d["bold"])


def test_mismatched_affine_is_refused_unless_resampling(derivatives, tmp_path):
    d = derivatives
    img = nib.load(d["bold"][0])
    shifted = img.affine.copy()
    shifted[0, 3] += 3.0
    moved = tmp_path / "sub-01_task-rest_desc-preproc_bold.nii.gz"
    nib.save(nib.Nifti1Image(img.get_fdata(), shifted), moved)
    ext = ROITimeSeriesExtractor(d["atlas"], t_r=2.0).fit()
    with pytest.raises(ValueError, match="not on the atlas's voxel grid"):
        ext.transform(moved)
    ext.set_params(resampling_target="data")
    (x,) = ext.transform(moved)
    assert x.shape[1] == 40


def test_labels_count_mismatch(derivatives, tmp_path):
    d = derivatives
    with pytest.raises(ValueError, match="atlas .* has 5 regions but 3 labels"):
        ROITimeSeriesExtractor(d["atlas"], ["a", "b", "c"]).fit()
    table = tmp_path / "labels.tsv"
    table.write_text("index\tname\n1\ta\n2\tb\n")
    with pytest.raises(ValueError, match="has 5 regions but labels table"):
        ROITimeSeriesExtractor(d["atlas"], table).fit()
    table.write_text("id\tlabel\n1\ta\n")
    with pytest.raises(ValueError, match="needs columns 'index' and 'name'"):
        ROITimeSeriesExtractor(d["atlas"], table).fit()


def test_image_must_be_4d(derivatives, tmp_path):
    d = derivatives
    vol = tmp_path / "vol.nii.gz"
    img = nib.load(d["bold"][0])
    nib.save(nib.Nifti1Image(img.get_fdata()[..., 0], img.affine), vol)
    ext = ROITimeSeriesExtractor(d["atlas"], t_r=2.0).fit()
    with pytest.raises(ValueError, match="is 3-D .* expected a 4-D BOLD series"):
        ext.transform(vol)


def test_parameters_are_validated(derivatives):
    with pytest.raises(ValueError, match="standardize"):
        ROITimeSeriesExtractor(derivatives["atlas"], standardize="zz").fit()
    with pytest.raises(ValueError, match="layout"):
        ROITimeSeriesExtractor(derivatives["atlas"], layout="x").fit()


def test_import_without_nilearn_names_the_extra():
    code = (
        "import sys; sys.modules['nilearn'] = None; sys.modules['nibabel'] = None\n"
        "import sk_brainjepa.imaging as m\n"
        "try:\n    m.ROITimeSeriesExtractor('atlas.nii.gz').fit()\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert 'pip install "sk_brainjepa[nifti]"' in out.stdout


def test_import_loads_neither_nilearn_nor_torch():
    code = (
        "import sys, sk_brainjepa.imaging\n"
        "print(sorted({'nilearn', 'nibabel', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_missing_confounds_file_names_the_image(tmp_path):
    d = make_fmriprep_derivatives(tmp_path, n_subjects=1, random_state=0)
    d["confounds"][0].unlink()
    ext = ROITimeSeriesExtractor(d["atlas"], confounds_strategy=("motion",)).fit()
    with pytest.raises(
        ValueError, match="cannot load the fMRIPrep confounds of .*sub-01"
    ):
        ext.transform(d["bold"])
