"""save_pretrained, from_pretrained, load_pretrained; embedding from a folder."""

import json
import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    ROIRobustScaler,
    SampleZScore,
    SubjectRobustScaler,
    TemporalResampler,
    make_brain_dynamics,
)
from sk_brainjepa.estimators import _pretrained_format as folder_format
from sk_brainjepa.estimators import load_pretrained, save_pretrained

from ._helpers import N_ROIS, WINDOW

MODULES = ("online_encoder_", "target_encoder_", "predictor_", "reconstruction_head_")
NAMES = [f"roi{i}" for i in range(N_ROIS)]
FILES = {
    "model.safetensors",
    "config.json",
    "gradients.csv",
    "preprocessing.safetensors",
    "README.md",
}


@pytest.fixture(scope="module")
def raw():
    """Raw simulated BOLD: per-subject ROI offsets far above the fluctuations."""
    X, _ = make_brain_dynamics(
        n_subjects=8, n_rois=N_ROIS, n_timepoints=64, random_state=1
    )
    return X


@pytest.fixture(scope="module")
def pipe(raw):
    """A trained pipeline: pooled robust scaling, then a pretrainer with a head."""
    jepa = BrainJEPAPretrainer(
        window_length=WINDOW,
        max_epochs=1,
        batch_size=4,
        reconstruction_weight=0.5,
        model_params={"depth": 1, "predictor_depth": 1},
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one tiny epoch: collapse warnings
        return Pipeline([("scale", ROIRobustScaler()), ("jepa", jepa)]).fit(raw)


@pytest.fixture(scope="module")
def folder(pipe, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model"
    out = save_pretrained(
        pipe, path, tr=2.0, atlas="toy-6", roi_names=NAMES, description="A test model."
    )
    assert out == path
    return path


def _states_equal(a, b):
    a, b = a.state_dict(), b.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ format
def test_folder_holds_safetensors_json_csv_and_a_card(folder, pipe):
    from safetensors import safe_open

    assert {p.name for p in folder.iterdir()} == FILES
    with safe_open(str(folder / "model.safetensors"), framework="pt") as fh:
        modules = {key.split(".")[0] for key in fh.keys()}
        assert fh.metadata()["format"] == "sk_brainjepa.pretrained"
    assert modules == {
        "encoder", "target_encoder", "predictor", "reconstruction_head", "positions"
    }  # fmt: skip
    for path in folder.iterdir():  # no pickle (0x80) and no torch zip (PK) anywhere
        assert path.read_bytes()[:2] not in (b"\x80\x02", b"\x80\x04", b"PK")
    config = json.loads((folder / "config.json").read_text())
    pre = pipe[-1]
    assert config["format"] == "sk_brainjepa.pretrained"
    assert config["format_version"] == 1
    assert (config["n_rois"], config["n_timepoints"], config["patch_size"]) == (
        N_ROIS, WINDOW, 16
    )  # fmt: skip
    assert (config["tr"], config["atlas"], config["roi_names"]) == (2.0, "toy-6", NAMES)
    assert config["recipe"] == "vicreg" and config["params"]["max_epochs"] == 1
    assert config["software"]["name"] == "sk_brainjepa"
    assert config["training"]["n_subjects"] == 8
    assert config["training"]["epochs"] == len(pre.history_) == 1
    assert config["preprocessing"]["steps"][0]["class"] == "ROIRobustScaler"
    grads = np.loadtxt(folder / "gradients.csv", delimiter=",", dtype=np.float32)
    assert_array_equal(grads, pre.gradients_)


def test_model_card_reports_data_training_and_use(folder, pipe):
    card = (folder / "README.md").read_text()
    last = pipe[-1].history_[-1]
    for text in (
        "A test model.",
        "| subjects | 8 |",
        f"| ROIs | {N_ROIS} |",
        "| atlas | toy-6 |",
        "2 s |",
        "Recipe: `vicreg`",
        "Epochs: 1",
        f"{last['loss']:.4g}",
        f"{last['position_share']:.4g}",
        "rankme",
        "Collapse check",
        "ROIRobustScaler()",
        'BrainJEPAEmbedder(checkpoint="path/to/this/folder"',
        "Intended use",
        "licence",
    ):
        assert text in card, text


# ------------------------------------------------------------- bit for bit
def test_from_pretrained_reloads_bit_for_bit(folder, pipe, raw):
    pre = pipe[-1]
    loaded = BrainJEPAPretrainer.from_pretrained(folder)
    for name in MODULES:
        assert _states_equal(getattr(loaded, name), getattr(pre, name)), name
    assert_array_equal(loaded.gradients_, pre.gradients_)
    assert loaded.history_ == pre.history_
    assert loaded.objective_ == pre.objective_
    assert loaded.n_subjects_ == 8 and loaded.n_rois_ == N_ROIS
    assert loaded.input_offset_ratio_ == pre.input_offset_ratio_
    params = {k: v for k, v in pre.get_params().items() if k != "gradients"}
    assert {k: v for k, v in loaded.get_params().items() if k != "gradients"} == {
        **params, "device": "cpu"
    }  # fmt: skip
    scaled = pipe[0].transform(raw)
    assert_array_equal(loaded.transform(scaled), pre.transform(scaled))


def test_embedder_on_raw_input_equals_the_trained_pipeline(folder, pipe, raw):
    # The done-when: reloads bit for bit and embeds raw input exactly
    # as the trained pipeline did.
    pre = pipe[-1]
    for readout in ("mean", "connectivity"):
        trained = Pipeline(
            [
                ("scale", pipe[0]),
                ("embed", BrainJEPAEmbedder(pretrainer=pre, readout=readout)),
            ]
        ).fit_transform(raw)
        shared = BrainJEPAEmbedder(checkpoint=folder, readout=readout).fit_transform(
            raw
        )
        assert_array_equal(shared, trained)
    embedder = BrainJEPAEmbedder(checkpoint=str(folder)).fit(raw)
    assert embedder.pretrained_folder_ == folder
    assert (embedder.model_tr_, embedder.atlas_, embedder.roi_names_) == (
        2.0,
        "toy-6",
        NAMES,
    )
    assert isinstance(embedder.preprocessing_, Pipeline)
    reference = pipe.transform(raw)
    assert_array_equal(embedder.transform(list(raw)), reference)
    # Skipping the recorded scaling: the input must then be scaled already.
    for off in (None, "none"):
        skip = BrainJEPAEmbedder(checkpoint=folder, preprocessing=off).fit(raw)
        assert skip.preprocessing_ is None
        assert_array_equal(skip.transform(pipe[0].transform(raw)), reference)


def test_lazily_read_input_is_scaled_as_it_is_read(folder, pipe, raw, tmp_path):
    path = tmp_path / "cohort.npy"
    np.save(path, raw)
    got = BrainJEPAEmbedder(checkpoint=folder).fit(raw).transform(path)
    # Each run is read as float32, then scaled: equal up to that rounding.
    assert_allclose(got, pipe.transform(raw), rtol=1e-4, atol=1e-5)
    nilearn_like = np.ascontiguousarray(raw.transpose(0, 2, 1))
    transposed = BrainJEPAEmbedder(checkpoint=folder, layout="time_x_rois")
    assert_allclose(
        transposed.fit_transform(nilearn_like),
        pipe.transform(raw),
        rtol=1e-5,
        atol=1e-6,
    )


def test_load_pretrained_gives_the_pipeline_back(folder, pipe, raw):
    model = load_pretrained(folder)
    assert model.path == folder and model.config["atlas"] == "toy-6"
    assert_array_equal(model.preprocessing[0].center_, pipe[0].center_)
    assert_array_equal(model.preprocessing[0].scale_, pipe[0].scale_)
    assert_array_equal(model.pipeline.transform(raw), pipe.transform(raw))
    with_probe = Pipeline([*model.pipeline.steps, ("clf", LogisticRegression())])
    assert with_probe.fit(raw, np.arange(8) % 2).predict(raw).shape == (8,)


def test_old_files_and_frozen_models_save_too(pipe, raw, tmp_path):
    # A model read from save()'s file: its n_subjects_ travels in the file, its
    # input offset ratio (not stored there) is NaN, written as JSON null.
    loaded = BrainJEPAPretrainer.load(pipe[-1].save(tmp_path / "model.pt"))
    assert loaded.n_subjects_ == 8
    path = save_pretrained(FrozenEstimator(loaded), tmp_path / "folder")
    assert json.loads((path / "config.json").read_text())["input_offset_ratio"] is None
    again = BrainJEPAPretrainer.from_pretrained(path)
    assert np.isnan(again.input_offset_ratio_)
    assert _states_equal(again.target_encoder_, pipe[-1].target_encoder_)
    assert "preprocessing.safetensors" not in {p.name for p in path.iterdir()}
    with pytest.raises(ValueError, match="fit it before save_pretrained"):
        save_pretrained(BrainJEPAPretrainer(), tmp_path / "unfitted")


# ------------------------------------------------------------ preprocessing
def test_streamed_scalings_are_recorded_as_their_in_memory_forms(pipe, raw, tmp_path):
    pre = pipe[-1]
    path = pre.save_pretrained(
        tmp_path / "subject", preprocessing=SubjectRobustScaler().to_window_transform()
    )
    trained = Pipeline(
        [("scale", SubjectRobustScaler()), ("embed", BrainJEPAEmbedder(pretrainer=pre))]
    )
    assert_array_equal(
        BrainJEPAEmbedder(checkpoint=path).fit_transform(raw),
        trained.fit_transform(raw),
    )
    streamed = pipe[0].to_window_transform()
    path = pre.save_pretrained(tmp_path / "roi", preprocessing=streamed)
    scaler = load_pretrained(path).preprocessing
    assert isinstance(scaler, ROIRobustScaler)
    assert_array_equal(scaler.center_, streamed.center[:, 0])
    with pytest.raises(ValueError, match="only over='run' can be recorded"):
        windowed = SampleZScore().to_window_transform(over="window")
        pre.save_pretrained(tmp_path / "w", preprocessing=windowed)


def test_unsupported_or_unfitted_steps_are_refused_by_name(pipe, tmp_path):
    pre = pipe[-1]
    supported = r"supported steps: ROIRobustScaler, SubjectRobustScaler, SampleZScore, "
    with pytest.raises(
        ValueError, match=r"step 'functional_connectivity' .*" + supported
    ):
        pre.save_pretrained(tmp_path / "a", preprocessing=FunctionalConnectivity())
    bad = Pipeline([("fc", FunctionalConnectivity()), ("jepa", pre)])
    with pytest.raises(ValueError, match=r"step 'fc' \(FunctionalConnectivity\)"):
        save_pretrained(bad, tmp_path / "b")
    with pytest.raises(ValueError, match="is not fitted"):
        pre.save_pretrained(tmp_path / "c", preprocessing=ROIRobustScaler())
    other = ROIRobustScaler().fit(np.random.default_rng(0).normal(size=(3, 4, 20)))
    with pytest.raises(ValueError, match="fitted on 4 ROIs, but the model has 6"):
        pre.save_pretrained(tmp_path / "d", preprocessing=other)
    clf = Pipeline([*pipe.steps, ("clf", LogisticRegression())])
    with pytest.raises(ValueError, match=r"save_pretrained\(pipeline\[:2\], ...\)"):
        save_pretrained(clf, tmp_path / "e")
    with pytest.raises(ValueError, match="not both"):
        save_pretrained(pipe, tmp_path / "f", preprocessing=SubjectRobustScaler())
    with pytest.raises(ValueError, match="roi_names has 2 names, but the model has 6"):
        pre.save_pretrained(tmp_path / "g", roi_names=["a", "b"])
    with pytest.raises(ValueError, match="random_state=0"):
        pre.save_pretrained(
            tmp_path / "h",
            preprocessing=TemporalResampler(random_state=np.random.RandomState(0)),
        )
    assert not list(tmp_path.iterdir())  # nothing was written


def test_a_resampler_sets_the_tr_and_runs_before_the_encoder(pipe, raw, tmp_path):
    pre = pipe[-1]
    steps = Pipeline(
        [("scale", SubjectRobustScaler()),
         ("resample", TemporalResampler(tr=1.0, target_tr=2.0, n_timepoints=None))]
    )  # fmt: skip
    path = save_pretrained(pre, tmp_path / "m", preprocessing=steps)
    assert json.loads((path / "config.json").read_text())["tr"] == 2.0
    at_tr_1 = np.repeat(raw, 2, axis=2)  # (8, 6, 128)
    trained = Pipeline([*steps.steps, ("embed", BrainJEPAEmbedder(pretrainer=pre))])
    embedder = BrainJEPAEmbedder(checkpoint=path, tr=1.0)
    assert_array_equal(embedder.fit_transform(at_tr_1), trained.fit_transform(at_tr_1))
    with pytest.raises(ValueError, match=r"expects data at TR 1 s .*TemporalResampler"):
        BrainJEPAEmbedder(checkpoint=path, tr=2.0).fit()
    with pytest.raises(ValueError, match="resamples to target_tr=2.0 s"):
        save_pretrained(pre, tmp_path / "n", preprocessing=steps, tr=3.0)


# ---------------------------------------------------------------- refusals
def test_other_roi_count_is_refused_naming_model_and_atlas(folder, raw):
    message = (
        r"X has 5 ROIs, but the pretrained model .*model' \(atlas: toy-6\) expects 6"
    )
    with pytest.raises(ValueError, match=message):
        BrainJEPAEmbedder(checkpoint=folder).fit(raw[:, :5])
    fitted = BrainJEPAEmbedder(checkpoint=folder).fit()
    with pytest.raises(ValueError, match=message):
        fitted.transform(raw[:, :5])


def test_tr_far_from_the_models_is_refused_with_the_fix(folder, raw):
    fix = r"TemporalResampler\(tr=0.72, target_tr=2, n_timepoints=None\)"
    with pytest.raises(
        ValueError, match=r"tr=0.72 s is more than 5% .* 2 s\. .*" + fix
    ):
        BrainJEPAEmbedder(checkpoint=folder, tr=0.72).fit(raw)
    BrainJEPAEmbedder(checkpoint=folder, tr=2.08).fit(raw)  # within 5 %


def test_embedder_stays_an_sklearn_estimator(folder, raw):
    embedder = BrainJEPAEmbedder(checkpoint=folder, preprocessing="none", tr=2.0)
    twin = clone(embedder)
    assert twin.get_params() == embedder.get_params()
    assert not hasattr(twin, "encoder_")
    fitted = BrainJEPAEmbedder(checkpoint=folder).fit(raw)
    restored = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(restored.transform(raw), fitted.transform(raw))
    with pytest.raises(ValueError, match="'preprocessing' parameter"):
        BrainJEPAEmbedder(checkpoint=folder, preprocessing="zscore").fit()
    with pytest.raises(ValueError, match="'tr' parameter"):
        BrainJEPAEmbedder(checkpoint=folder, tr=-1.0).fit()


def test_changed_or_foreign_folders_are_refused(folder, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(folder, edited)
    (edited / "gradients.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="differs from the gradients stored"):
        BrainJEPAEmbedder(checkpoint=edited).fit()
    newer = tmp_path / "newer"
    shutil.copytree(folder, newer)
    config = json.loads((newer / "config.json").read_text())
    config["format_version"] = 99
    (newer / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="version 99.*Upgrade sk_brainjepa"):
        BrainJEPAPretrainer.from_pretrained(newer)
    config["format_version"] = 1
    config["preprocessing"]["steps"][0]["class"] = "os.system"
    (newer / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'os.system', which this version cannot"):
        BrainJEPAEmbedder(checkpoint=newer).fit()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no config.json"):
        BrainJEPAPretrainer.from_pretrained(tmp_path / "empty")
    with pytest.raises(
        ValueError, match="is a file; expected a pretrained-model folder"
    ):
        BrainJEPAPretrainer.from_pretrained(folder / "README.md")
    with pytest.raises(ValueError, match="does not exist"):
        BrainJEPAEmbedder(checkpoint=tmp_path / "runs" / "model.pt").fit()


# --------------------------------------------------------------- atomicity
def test_writes_are_atomic_and_never_destroy_a_folder(pipe, tmp_path, monkeypatch):
    pre = pipe[-1]
    target = tmp_path / "model"
    target.mkdir()  # an empty folder may be written into
    pre.save_pretrained(target, description="first")
    with pytest.raises(
        ValueError, match="exists and is not empty; pass overwrite=True"
    ):
        pre.save_pretrained(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def fail(tmp, contents):
        (tmp / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(folder_format, "_fill", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        pre.save_pretrained(target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary left
    monkeypatch.undo()
    pre.save_pretrained(target, overwrite=True, description="second")
    assert "second" in (target / "README.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        pre.save_pretrained(tmp_path / "file")
