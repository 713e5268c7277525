"""convert_official_checkpoint: the official release as one pretrained folder."""

import json

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from sk_brainjepa import BrainJEPAEmbedder, BrainJEPAPretrainer, SampleZScore
from sk_brainjepa.estimators import convert_official_checkpoint
from sk_brainjepa.estimators._official_conversion import OFFICIAL_TR

from ._official import write_fake_official

N_ROIS = 12


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    checkpoint, csv, modules = write_fake_official(root, n_rois=N_ROIS)
    folder = convert_official_checkpoint(checkpoint, csv, root / "converted")
    return checkpoint, csv, modules, folder


@pytest.fixture(scope="module")
def raw():
    rng = np.random.default_rng(0)
    # Per-ROI offsets like raw BOLD, runs longer than the 160-frame window.
    return (
        8000 + 40 * rng.normal(size=(3, N_ROIS, 1)) + rng.normal(size=(3, N_ROIS, 170))
    )


def test_folder_gives_the_features_of_the_official_file(official, raw):
    checkpoint, csv, _, folder = official
    scaled = SampleZScore().fit_transform(raw)  # the official downstream scaling
    for encoder in ("target", "online"):
        from_file = BrainJEPAEmbedder(
            checkpoint, gradients=str(csv), source_encoder=encoder
        )
        expected = from_file.fit_transform(scaled)
        converted = BrainJEPAEmbedder(checkpoint=folder, source_encoder=encoder)
        # Raw input: the folder applies the official scaling it records.
        assert_array_equal(converted.fit_transform(raw), expected)
        skip = BrainJEPAEmbedder(
            checkpoint=folder, source_encoder=encoder, preprocessing=None
        )
        assert_array_equal(skip.fit_transform(scaled), expected)


def test_folder_records_the_official_facts(official):
    _, csv, _, folder = official
    config = json.loads((folder / "config.json").read_text())
    assert config["source"] == "convert_official_checkpoint"
    assert config["tr"] == pytest.approx(2.205) == OFFICIAL_TR
    assert config["acquisition_tr"] == 0.735
    assert (config["n_timepoints"], config["patch_size"]) == (160, 16)
    assert config["recipe"] == "official"
    assert config["preprocessing"]["steps"][0]["class"] == "SampleZScore"
    assert config["preprocessing"]["steps"][0]["params"]["ddof"] == 1
    assert "normalization_params_train.npz" in config["preprocessing_note"]
    # The gradient file is copied byte for byte, with its name and hash.
    assert (folder / "gradients.csv").read_bytes() == csv.read_bytes()
    assert config["gradients"]["original_name"] == csv.name
    assert len(config["gradients"]["sha256"]) == 64
    assert config["atlas"] is None  # 12 ROIs: not the official atlas
    card = (folder / "README.md").read_text()
    assert "no LICENSE file" in card and "SampleZScore()" in card


def test_converted_predictor_loads_as_a_fitted_pretrainer(official):
    _, _, modules, folder = official
    pre = BrainJEPAPretrainer.from_pretrained(folder)
    assert (pre.window_length, pre.recipe, pre.history_) == (160, "official", [])
    assert pre.window_length_ == 160
    for name, module in modules.items():
        attribute = "online_encoder_" if name == "encoder" else f"{name}_"
        ours = getattr(pre, attribute).state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(ours[key], value), (name, key)


def test_450_rois_record_the_official_atlas_and_roi_order(tmp_path):
    checkpoint, csv, _ = write_fake_official(tmp_path, n_rois=450, predictor=False)
    folder = convert_official_checkpoint(checkpoint, csv, tmp_path / "converted")
    config = json.loads((folder / "config.json").read_text())
    assert config["atlas"].startswith("Brain-JEPA 450: Tian Scale-III subcortex")
    names = config["roi_names"]
    assert len(names) == 450
    assert names[:1] + names[49:51] + names[-1:] == [
        "Tian_S3_1", "Tian_S3_50", "Schaefer400_1", "Schaefer400_400"
    ]  # fmt: skip
    assert config["modules"] == ["encoder", "target_encoder"]  # no predictor given
    with pytest.raises(ValueError, match="holds no predictor"):
        BrainJEPAPretrainer.from_pretrained(folder)
    embedder = BrainJEPAEmbedder(checkpoint=folder)
    with pytest.raises(ValueError, match=r"X has 400 ROIs, but .*Tian Scale-III"):
        embedder.fit(np.zeros((1, 400, 160)))
    with pytest.raises(
        ValueError, match="TemporalResampler\\(tr=0.735, target_tr=2.205"
    ):
        BrainJEPAEmbedder(checkpoint=folder, tr=0.735).fit()


def test_conversion_refuses_what_is_not_official(official, tmp_path):
    checkpoint, csv, _, folder = official
    with pytest.raises(ValueError, match="not empty"):
        convert_official_checkpoint(checkpoint, csv, folder)
    ours = BrainJEPAPretrainer.from_pretrained(folder).save(tmp_path / "ours.pt")
    with pytest.raises(ValueError, match="is not an official Brain-JEPA checkpoint"):
        convert_official_checkpoint(ours, csv, tmp_path / "a")
    other = tmp_path / "other.csv"
    other.write_text("\n".join(["1,2,3"] * 5) + "\n")
    with pytest.raises(ValueError, match="gradients has 5 rows"):
        convert_official_checkpoint(checkpoint, other, tmp_path / "b")
    with pytest.raises(ValueError, match="preprocessing must be one of"):
        convert_official_checkpoint(checkpoint, csv, tmp_path / "c", preprocessing="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.csv", "ours.pt"]
