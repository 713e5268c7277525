"""What a new user hits with BrainJEPAPretrainer (issue #13): layout, parameter
checks before any work, resume that refuses other data, safe checkpoint errors,
unscaled input, worker errors, and continuing a finished run."""

import pickle

import numpy as np
import pytest
import torch

from sk_brainjepa.estimators import (
    BrainJEPAClassifier,
    BrainJEPAPretrainer,
    UnscaledInputWarning,
)
from sk_brainjepa.gradients import GradientPositioner
from sk_brainjepa.preprocessing import FunctionalConnectivity, SubjectRobustScaler
from sk_brainjepa.sources import ScaledSource
from sk_brainjepa.training import JEPATrainer

PARAMS = dict(window_length=32, max_epochs=2, batch_size=4, random_state=0)


def _data(n_subjects=8, n_rois=6, n_timepoints=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_subjects, n_rois, n_timepoints)).astype(np.float32)


def _state(model):
    return {k: v.clone() for k, v in model.target_encoder_.state_dict().items()}


def _assert_same_weights(a, b):
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


# ----------------------------------------------------------------- layout
def test_time_by_roi_subjects_train_the_same_model_with_layout():
    X = _data()
    as_nilearn = [x.T.copy() for x in X]  # (n_timepoints, n_rois) each
    ours = BrainJEPAPretrainer(**PARAMS).fit(X)
    theirs = BrainJEPAPretrainer(**PARAMS, layout="time_x_rois").fit(as_nilearn)
    _assert_same_weights(ours, theirs)
    np.testing.assert_array_equal(ours.transform(X), theirs.transform(as_nilearn))


def test_transposed_input_is_named_at_transform_and_against_gradients():
    X = _data(n_rois=6, n_timepoints=32)
    fitted = BrainJEPAPretrainer(**{**PARAMS, "max_epochs": 0}).fit(X)
    # 32 frames x 6 ROIs read as 32 ROIs x 6 frames: the ROI count does not match.
    transposed = _data(n_rois=32, n_timepoints=6)
    with pytest.raises(ValueError, match="looks transposed.*layout='time_x_rois'"):
        fitted.transform(np.ascontiguousarray(transposed))
    gradients = np.random.default_rng(0).standard_normal((6, 3))
    data = _data(n_rois=40, n_timepoints=6 * 8)
    with pytest.raises(ValueError, match="expects 6 ROIs.*layout"):
        BrainJEPAPretrainer(**PARAMS, gradients=gradients).fit(data)
    with pytest.raises(ValueError, match="layout must be one of|'layout' parameter"):
        BrainJEPAPretrainer(**PARAMS, layout="rows").fit(X)


# ------------------------------------------------------ parameter checks
def test_numpy_scalars_are_accepted():
    X = _data()
    BrainJEPAPretrainer(
        window_length=np.int64(32),
        max_epochs=np.int32(1),
        batch_size=np.int64(4),
        lr=np.float32(1e-3),
        collapse_threshold=np.float64(0.0),
        random_state=0,
    ).fit(X)


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("collapse_threshold", "x", "collapse_threshold"),
        ("model_params", {"depth": 0}, "depth >= 1"),
        ("model_params", {"predictor_depth": 0}, "predictor needs depth >= 1"),
        ("model_params", {"widht": 8}, "model_params"),
        ("warmup_epochs", -1, "warmup_epochs"),
        ("start_lr", -1, "start_lr"),
        ("lr", np.float32(0), "'lr' parameter"),
        ("batch_size", 2.5, "batch_size"),
        ("resume", 1, "resume"),
        ("monitor_every", 0, "monitor_every"),
        ("model", "huge", "'model' parameter"),
    ],
)
def test_bad_parameters_fail_before_any_data_is_read(name, value, match):
    # X is a path that does not exist: a parameter error must come first.
    with pytest.raises(ValueError, match=match):
        BrainJEPAPretrainer(**{**PARAMS, name: value}).fit("/no/such/folder")


def test_checkpoint_path_that_is_a_folder_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_path=.* is a folder"):
        BrainJEPAPretrainer(**PARAMS, checkpoint_path=tmp_path).fit("/no/such/folder")


# ---------------------------------------------------------------- resume
def test_resume_refuses_other_data_and_other_scaling(tmp_path):
    X = _data()
    path = tmp_path / "run.ckpt"
    BrainJEPAPretrainer(**PARAMS, checkpoint_path=path).fit(X)
    with pytest.raises(ValueError, match="trained on other data"):
        BrainJEPAPretrainer(**PARAMS, checkpoint_path=path, resume=True).fit(
            _data(seed=1)
        )
    # Same subjects through a scaling: refused, and the scaling is named.
    scaled = ScaledSource(X, SubjectRobustScaler().to_window_transform())
    path2 = tmp_path / "raw.ckpt"
    BrainJEPAPretrainer(**PARAMS, checkpoint_path=path2).fit(X)
    with pytest.raises(ValueError, match=r"scaled with none; X is scaled with"):
        BrainJEPAPretrainer(**PARAMS, checkpoint_path=path2, resume=True).fit(scaled)


def _gradients_forms(X):
    fc = FunctionalConnectivity().fit_transform(X).mean(axis=0)
    positioner = GradientPositioner(n_components=3, sparsity=0.5, random_state=0).fit(
        fc
    )
    return {"array": positioner.gradients_.copy(), "positioner": positioner}


def test_gradients_are_read_and_validated_in_one_place(tmp_path):
    """Every form of ``gradients`` goes through ``gradients._resolve``: one
    validation (2-D, finite, one row per ROI) with the same messages."""
    import subprocess
    import sys

    from sk_brainjepa.gradients import write_gradient_csv
    from sk_brainjepa.gradients._resolve import gradient_array, resolve_gradients

    X = _data()
    values = np.asfortranarray(np.random.default_rng(0).standard_normal((6, 3)))
    path = tmp_path / "gradients.csv"
    write_gradient_csv(values, path)
    positioner = GradientPositioner(n_components=3, sparsity=0.5)
    for form in (values, path, str(path), positioner, None):
        resolved = resolve_gradients(form, X, 6, 0)
        assert resolved.dtype == np.float32 and resolved.flags.c_contiguous
    np.testing.assert_array_equal(gradient_array(path), gradient_array(values))
    with pytest.raises(ValueError, match=r"\(n_rois, n_components\); got shape \(6,\)"):
        gradient_array(values[:, 0])
    with pytest.raises(ValueError, match=r"= \(6, m\) to match X; got shape \(6,\)"):
        resolve_gradients(values[:, 0], X, 6, 0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        gradient_array(np.where(values > 1, np.nan, values))
    with pytest.raises(ValueError, match=r"the gradients \(shape \(6, 3\)\)"):
        resolve_gradients(values, X, 5, 0)
    # The gradients layer does not load torch, even for the estimators' resolution.
    code = "import sys, sk_brainjepa.gradients._resolve; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("form", ["array", "positioner"])
def test_resume_accepts_every_form_of_gradients(tmp_path, monkeypatch, form):
    X = _data()
    gradients = _gradients_forms(X)[form]
    params = {**PARAMS, "max_epochs": 3, "gradients": gradients}
    whole = BrainJEPAPretrainer(**params).fit(X)
    path = tmp_path / "run.ckpt"
    original, calls = JEPATrainer.train_batch, {"n": 0}

    def interrupted(self, x, **kwargs):  # stops in epoch 2 (2 batches an epoch)
        calls["n"] += 1
        if calls["n"] > 3:
            raise _Interrupt
        return original(self, x, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(JEPATrainer, "train_batch", interrupted)
        with pytest.raises(_Interrupt):
            BrainJEPAPretrainer(**params, checkpoint_path=path).fit(X)
    resumed = BrainJEPAPretrainer(**params, checkpoint_path=path, resume=True).fit(X)
    _assert_same_weights(whole, resumed)
    other = np.asarray(_gradients_forms(X)["array"]) + 1.0
    with pytest.raises(ValueError, match="gradients give other ROI positions"):
        BrainJEPAPretrainer(
            **{**params, "gradients": other}, checkpoint_path=path, resume=True
        ).fit(X)


def test_a_finished_run_continues_for_more_epochs(tmp_path):
    X = _data()
    path = tmp_path / "run.ckpt"
    BrainJEPAPretrainer(**PARAMS, checkpoint_path=path).fit(X)
    longer = BrainJEPAPretrainer(
        **{**PARAMS, "max_epochs": 4}, checkpoint_path=path, resume=True
    ).fit(X)
    assert [h["epoch"] for h in longer.history_] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="already run 4 epochs.*Raise max_epochs"):
        BrainJEPAPretrainer(
            **{**PARAMS, "max_epochs": 3}, checkpoint_path=path, resume=True
        ).fit(X)


# ----------------------------------------------------------- checkpoints
class _Payload:
    """Stands for whatever a foreign pickle may carry."""


def test_foreign_checkpoint_error_never_advises_unsafe_loading(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"model": _Payload()}, path)
    with pytest.raises(ValueError) as info:
        BrainJEPAPretrainer.load(path)
    message = str(info.value)
    assert "refused without being unpickled" in message
    assert "weights_only" not in message
    assert "False" not in message
    with open(tmp_path / "plain.pkl", "wb") as fh:
        pickle.dump({"a": _Payload()}, fh)
    with pytest.raises(ValueError) as info:
        BrainJEPAPretrainer.load(tmp_path / "plain.pkl")
    assert "weights_only" not in str(info.value)


def test_checkpoint_missing_entries_is_named(tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({"format": "sk_brainjepa.pretrainer", "n_rois": 6}, path)
    with pytest.raises(ValueError, match="lacks 'params'.*BrainJEPAPretrainer.load"):
        BrainJEPAPretrainer.load(path)


# ------------------------------------------------------ data problems
def test_unscaled_bold_warns_before_training():
    X = 10_000 + 50 * _data()
    with pytest.warns(UnscaledInputWarning, match="X looks unscaled"):
        BrainJEPAPretrainer(**{**PARAMS, "max_epochs": 0}).fit(X)


def test_nan_read_in_a_worker_is_reported_as_itself(tmp_path):
    X = _data()
    X[3, 2, 5:] = np.nan
    # A .npy cohort is memory-mapped and checked only as windows are read,
    # here in a DataLoader worker process.
    np.save(tmp_path / "X.npy", X)
    est = BrainJEPAPretrainer(**PARAMS, num_workers=1)
    with pytest.raises(ValueError) as info:
        est.fit(tmp_path / "X.npy")
    message = str(info.value)
    assert "contains" in message and "NaN" in message
    assert "DataLoader worker" not in message
    assert "Traceback" not in message


def test_fine_tuner_reads_time_by_roi_subjects_with_layout():
    X = _data(n_subjects=12)
    y = np.arange(12) % 2
    pretrainer = BrainJEPAPretrainer(**{**PARAMS, "max_epochs": 0}).fit(X)
    common = dict(pretrainer=pretrainer, max_epochs=1, random_state=0)
    ours = BrainJEPAClassifier(**common).fit(X, y)
    theirs = BrainJEPAClassifier(**common, layout="time_x_rois").fit(
        [x.T for x in X], y
    )
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X.transpose(0, 2, 1)), atol=1e-6
    )
    with pytest.raises(ValueError, match="looks transposed"):
        ours.predict(_data(n_rois=32, n_timepoints=6))


def test_untrained_baseline_builds_with_the_official_recipe():
    # Zero epochs means zero mini-batches; the official EMA schedule still builds.
    params = {**PARAMS, "max_epochs": 0, "window_length": 48}  # 3 time patches
    model = BrainJEPAPretrainer(**params, recipe="official")
    assert model.fit(_data(n_timepoints=48)).history_ == []
