"""Saving and loading training checkpoints."""

import os

import pytest
import torch

from sk_brainjepa.training import load_checkpoint, save_checkpoint


def test_checkpoint_round_trip_and_atomicity(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"w": torch.arange(3.0), "meta": {"epoch": 2}}, path)
    out = load_checkpoint(path)
    assert torch.equal(out["w"], torch.arange(3.0)) and out["meta"] == {"epoch": 2}

    # A failing save leaves the previous file intact and no temporary behind.
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"w": torch.zeros(1)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(3.0))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


class _Untrusted:
    """Any class: unpickling it would run arbitrary code paths."""


def test_load_checkpoint_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": _Untrusted()}, path)
    with pytest.raises(ValueError, match="refused without being unpickled"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_save_checkpoint_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        save_checkpoint({}, tmp_path / "nope" / "x.pt")
