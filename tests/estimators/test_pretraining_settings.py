"""The pretrainer's parameters, resolved once into frozen settings the steps read."""

import dataclasses
import inspect
import warnings

import pytest
from numpy.testing import assert_array_equal

from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
from sk_brainjepa.estimators import _pretraining_settings, _pretraining_steps
from sk_brainjepa.estimators._pretraining_settings import resolve_settings
from sk_brainjepa.preprocessing import SubjectRobustScaler
from sk_brainjepa.training import Objective

FAST = dict(
    window_length=32,
    patch_size=16,
    max_epochs=1,
    batch_size=4,
    model_params={"depth": 1, "predictor_depth": 1},
    random_state=0,
)


@pytest.fixture(scope="module")
def X():
    raw = make_brain_dynamics(n_subjects=8, n_rois=6, n_timepoints=48, random_state=0)
    return SubjectRobustScaler().fit_transform(raw[0])


def test_settings_are_frozen_and_hold_the_resolved_recipe():
    est = BrainJEPAPretrainer(recipe="official", vicreg_weight=0.5, window_length=48)
    settings = resolve_settings(est)
    assert settings.objective == Objective(loss="smooth_l1", vicreg_weight=0.5)
    assert (settings.masking.kind, settings.schedule.ema_schedule) == (
        "official",
        "official",
    )
    assert settings.model.window_length == 48 and settings.model.n_time_patches == 3
    for part in (settings, settings.model, settings.schedule, settings.runtime):
        with pytest.raises(dataclasses.FrozenInstanceError):
            part.recipe = "paper"  # any field: the object cannot change


def test_fit_resolves_the_recipe_once(X, monkeypatch):
    calls = []
    original = _pretraining_settings.recipe_values

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(_pretraining_settings, "recipe_values", counting)
    BrainJEPAPretrainer(**FAST).fit(X)
    assert len(calls) == 1


def test_no_step_takes_the_estimator():
    steps = (
        _pretraining_steps.prepare_run,
        _pretraining_steps.build_modules,
        _pretraining_steps.make_trainer,
        _pretraining_steps.train_epochs,
    )
    for step in steps:
        names = set(inspect.signature(step).parameters)
        assert "est" not in names and "self" not in names, step.__name__
        assert names & {"settings", "model", "objective"}, step.__name__


def test_an_old_parameter_name_warns_once_per_fit_and_gives_the_same_model(X):
    new = BrainJEPAPretrainer(**FAST).fit(X)
    old_params = {k: v for k, v in FAST.items() if k != "window_length"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = BrainJEPAPretrainer(n_timepoints=32, **old_params).fit(X)
    renamed = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert len(renamed) == 1 and "window_length" in str(renamed[0].message)
    # The warning names the caller's line, not the library's.
    assert renamed[0].filename == __file__
    assert old.window_length_ == 32
    assert_array_equal(old.transform(X), new.transform(X))
    with pytest.raises(ValueError, match="n_timepoints=32 and window_length=48"):
        BrainJEPAPretrainer(n_timepoints=32, window_length=48).fit(X)


def test_encoder_attribute_is_the_online_encoder_under_its_old_name(X):
    est = BrainJEPAPretrainer(**FAST).fit(X)
    with pytest.warns(FutureWarning, match="online_encoder_"):
        old = est.encoder_
    assert old is est.online_encoder_
    assert not hasattr(BrainJEPAPretrainer(), "online_encoder_")


def test_a_checkpoint_written_under_the_old_name_resumes_under_the_new(X, tmp_path):
    old_params = {k: v for k, v in FAST.items() if k != "window_length"}
    with pytest.warns(FutureWarning):
        BrainJEPAPretrainer(
            n_timepoints=32, **old_params, checkpoint_path=tmp_path / "old.pt"
        ).fit(X)
    BrainJEPAPretrainer(**FAST, checkpoint_path=tmp_path / "new.pt").fit(X)
    # Continued under the new name, both give the same model: the saved old
    # name means the same run.
    longer = {**FAST, "max_epochs": 2}
    resumed = [
        BrainJEPAPretrainer(**longer, checkpoint_path=tmp_path / name, resume=True).fit(
            X
        )
        for name in ("old.pt", "new.pt")
    ]
    assert_array_equal(resumed[0].transform(X), resumed[1].transform(X))
    assert [h["epoch"] for h in resumed[0].history_] == [1, 2]
    # Loading it as a model reads the old name as the new one, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = BrainJEPAPretrainer.load(tmp_path / "old.pt")
    assert (loaded.window_length, loaded.n_timepoints) == (32, "deprecated")
    assert loaded.window_length_ == 32
    assert_array_equal(
        loaded.transform(X),
        BrainJEPAPretrainer.load(tmp_path / "new.pt").transform(X),
    )
