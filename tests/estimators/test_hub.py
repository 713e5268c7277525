"""Hugging Face Hub interop, offline: a hub-cache snapshot and a mocked upload."""

import shutil
import sys
from pathlib import Path

import pytest
from numpy.testing import assert_array_equal

from sk_brainjepa import BrainJEPAEmbedder, BrainJEPAPretrainer, SubjectRobustScaler
from sk_brainjepa.estimators import push_to_hub, save_pretrained
from sk_brainjepa.estimators._hub import locate_pretrained, looks_like_repo_id

hub = pytest.importorskip("huggingface_hub")
hub_constants = pytest.importorskip("huggingface_hub.constants")

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def saved(pretrained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub") / "model"
    return save_pretrained(
        pretrained, folder, preprocessing=SubjectRobustScaler(), tr=2.0
    )


@pytest.fixture
def offline_cache(saved, tmp_path, monkeypatch):
    """A hub cache holding org/brain-jepa-test at REVISION, with the Hub offline."""
    repo = tmp_path / "cache" / "models--org--brain-jepa-test"
    shutil.copytree(saved, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    # huggingface_hub reads both variables when imported: patch its constants too.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    return repo


def test_repo_ids_are_told_from_paths():
    assert looks_like_repo_id("org/brain-jepa-base")
    assert looks_like_repo_id("my.org/model_v1")
    for path in (
        "model.pt",
        "runs/model.pt",
        "a/b/c",
        "../x",
        "/abs/x",
        "org/x.pth.tar",
    ):
        assert not looks_like_repo_id(path), path


def test_repo_id_loads_from_the_hub_cache(offline_cache, pretrained, data):
    X = data[0]
    pre = BrainJEPAPretrainer.from_pretrained("org/brain-jepa-test")
    assert_array_equal(pre.transform(X), pretrained.transform(X))
    embedder = BrainJEPAEmbedder(checkpoint="org/brain-jepa-test").fit(X)
    assert embedder.pretrained_folder_ == offline_cache / "snapshots" / REVISION
    expected = BrainJEPAEmbedder(pretrainer=pretrained).fit_transform(
        SubjectRobustScaler().fit_transform(X)
    )
    assert_array_equal(embedder.transform(X), expected)
    with pytest.raises(
        ValueError, match="fetching it as a Hugging Face Hub repo failed"
    ):
        BrainJEPAEmbedder(checkpoint="org/not-cached").fit()


def test_missing_huggingface_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "sk_brainjepa\[hub\]"'):
        locate_pretrained("org/brain-jepa-test")
    with pytest.raises(ImportError, match=r"sk_brainjepa\[hub\]"):
        push_to_hub("some/folder", "org/name")


def test_push_to_hub_saves_then_uploads_the_folder(pretrained, saved, monkeypatch):
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        # The temporary folder exists only during the call: look at it now.
        files = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        calls.append(("upload", kwargs, files))
        return "commit-info"

    monkeypatch.setattr(hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(hub.HfApi, "upload_folder", upload_folder)
    result = push_to_hub(pretrained, "org/brain-jepa-test", private=True, tr=2.0)
    assert result == "commit-info"
    (_, repo, options), (_, upload, files) = calls
    assert repo == "org/brain-jepa-test" and options["private"] is True
    assert upload["repo_id"] == "org/brain-jepa-test"
    assert upload["repo_type"] == "model"
    assert files == ["README.md", "config.json", "gradients.csv", "model.safetensors"]
    calls.clear()
    push_to_hub(saved, "org/other")  # a folder written already goes as it is
    assert calls[1][1]["folder_path"] == str(saved)
    assert "preprocessing.safetensors" not in calls[1][2]  # stateless scaler only
    with pytest.raises(ValueError, match="apply when a model is saved"):
        push_to_hub(saved, "org/other", tr=2.0)
    with pytest.raises(ValueError, match="repo_id must look like 'org/name'"):
        push_to_hub(pretrained, "not a repo")
