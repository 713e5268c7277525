"""The official 450-ROI atlas: Tian Scale-III first, then Schaefer-400 (17 networks)."""

import warnings

import numpy as np
import pandas as pd
import pytest

nib = pytest.importorskip("nibabel")
pytest.importorskip("nilearn")

from sk_brainjepa._utils._validation import check_n_rois  # noqa: E402
from sk_brainjepa.imaging._official_atlas import (  # noqa: E402
    ROI_COUNT_OFFICIAL,
    official_brainjepa_atlas,
)

AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
SHAPE = (20, 20, 3)


def _schaefer(n_labels=400, *, offset=0):
    """Slices z=0,1 of a 20 x 20 x 3 grid: label s on voxels 2(s-1), 2s - 1."""
    data = np.zeros(SHAPE, dtype=np.int16)
    flat = data[:, :, :2].reshape(-1).copy()
    flat[: 2 * n_labels] = np.repeat(np.arange(1, n_labels + 1), 2) + offset
    data[:, :, :2] = flat.reshape(20, 20, 2)
    return nib.Nifti1Image(data, AFFINE)


def _tian(values=None):
    """Slice z=2: 50 regions with these label values (default 1..50), 2 voxels each."""
    values = np.arange(1, 51) if values is None else np.asarray(values)
    data = np.zeros(SHAPE, dtype=np.int16)
    plane = np.zeros(400, dtype=np.int16)
    plane[: 2 * len(values)] = np.repeat(values, 2)
    data[:, :, 2] = plane.reshape(20, 20)
    return nib.Nifti1Image(data, AFFINE)


def _schaefer_names(networks=17):
    nets = ["VisCent", "SomMotA"] if networks == 17 else ["Vis", "SomMot"]
    return [
        f"{networks}Networks_{'LH' if k <= 200 else 'RH'}_{nets[k % 2]}_{k}"
        for k in range(1, 401)
    ]


def test_tian_first_then_schaefer_shifted_by_50():
    # Tian values out of order on disk: its regions take the order of their values.
    tian_values = np.arange(101, 151)[::-1]
    atlas = official_brainjepa_atlas(_schaefer(), _tian(tian_values))
    merged = np.asarray(atlas.maps.dataobj)
    schaefer = np.asarray(_schaefer().dataobj)
    tian = np.asarray(_tian(tian_values).dataobj)
    assert atlas.maps.get_data_dtype() == np.int16
    assert np.array_equal(np.unique(merged[merged > 0]), np.arange(1, 451))
    # Schaefer parcel s -> label 50 + s.
    assert np.array_equal(merged[schaefer > 0], schaefer[schaefer > 0] + 50)
    # Tian value v -> its rank among the Tian values, 1..50.
    assert np.array_equal(merged[tian > 0], tian[tian > 0] - 100)
    assert atlas.lut["index"].tolist() == list(range(1, 451))
    assert atlas.lut["atlas"].tolist() == ["Tian_S3"] * 50 + ["Schaefer400_17"] * 400
    assert atlas.labels[:2] == ["Tian_S3_1", "Tian_S3_2"]
    assert atlas.labels[50] == "Schaefer400_1"
    assert atlas.n_overlap_voxels == 0
    assert atlas.maps_path is None
    assert ROI_COUNT_OFFICIAL == len(atlas.labels) == 450


def test_label_values_of_schaefer_need_not_start_at_one():
    atlas = official_brainjepa_atlas(_schaefer(offset=1000), _tian())
    merged = np.asarray(atlas.maps.dataobj)
    schaefer = np.asarray(_schaefer().dataobj)
    assert np.array_equal(merged[schaefer > 0], schaefer[schaefer > 0] + 50)


def test_a_masker_gives_rows_in_the_official_order():
    from nilearn.maskers import NiftiLabelsMasker

    atlas = official_brainjepa_atlas(_schaefer(), _tian())
    labels = np.asarray(atlas.maps.dataobj).astype(float)
    # Each voxel's series is its label value times a ramp: row k - 1 = k * ramp.
    ramp = np.linspace(1.0, 2.0, 5)
    bold = nib.Nifti1Image(labels[..., None] * ramp, AFFINE)
    series = NiftiLabelsMasker(atlas.maps, standardize=None).fit_transform(bold).T
    assert series.shape == (450, 5)
    np.testing.assert_allclose(series, np.arange(1, 451)[:, None] * ramp, rtol=1e-5)


def test_names_networks_and_background():
    tian_names = ["Background"] + [f"HIP-{k}-rh" for k in range(1, 51)]
    atlas = official_brainjepa_atlas(
        _schaefer(),
        _tian(),
        schaefer_labels=_schaefer_names(),
        tian_labels=tian_names,
    )
    assert atlas.labels[0] == "HIP-1-rh"
    assert atlas.labels[50] == "17Networks_LH_SomMotA_1"
    assert atlas.lut["network"].iloc[:50].eq("Subcortical").all()
    assert atlas.lut["network"].iloc[50:52].tolist() == ["SomMotA", "VisCent"]


def test_a_nilearn_style_bunch_and_name_files(tmp_path):
    from sklearn.utils import Bunch

    bunch = Bunch(maps=_schaefer(), labels=["Background"] + _schaefer_names())
    order = tmp_path / "Schaefer2018_400Parcels_17Networks_order.txt"
    order.write_text(
        "".join(
            f"{k}\t{n}\t120\t18\t111\t0\n" for k, n in enumerate(_schaefer_names(), 1)
        )
    )
    tian_txt = tmp_path / "Tian_Subcortex_S3_3T_label.txt"
    tian_txt.write_text("".join(f"THA-{k}-lh\n" for k in range(1, 51)))
    from_bunch = official_brainjepa_atlas(bunch, _tian(), tian_labels=tian_txt)
    from_files = official_brainjepa_atlas(
        _schaefer(), _tian(), schaefer_labels=order, tian_labels=tian_txt
    )
    assert from_bunch.labels == from_files.labels
    assert from_files.labels[0] == "THA-1-lh"
    assert from_files.labels[-1] == "17Networks_RH_VisCent_400"


def test_files_are_written_and_read_back(tmp_path):
    schaefer_path = tmp_path / "schaefer.nii.gz"
    _schaefer().to_filename(schaefer_path)
    atlas = official_brainjepa_atlas(
        str(schaefer_path), _tian(), output_dir=tmp_path / "atlas"
    )
    assert atlas.maps_path.name == "atlas-BrainJEPA450_dseg.nii.gz"
    back = nib.load(atlas.maps_path)
    assert np.array_equal(np.asarray(back.dataobj), np.asarray(atlas.maps.dataobj))
    table = pd.read_csv(atlas.labels_path, sep="\t")
    assert list(table.columns) == ["index", "name", "atlas", "network"]
    assert len(table) == 450


def test_overlap_goes_to_the_subcortical_region():
    tian = np.asarray(_tian().dataobj).copy()
    tian[0, 0, 0] = 7  # also Schaefer parcel 1's voxel (whose other voxel stays)
    with pytest.warns(UserWarning, match="1 voxels are labelled by both"):
        atlas = official_brainjepa_atlas(_schaefer(), nib.Nifti1Image(tian, AFFINE))
    assert atlas.n_overlap_voxels == 1
    assert np.asarray(atlas.maps.dataobj)[0, 0, 0] == 7


def test_a_region_that_loses_every_voxel_is_an_error():
    tian = np.asarray(_tian().dataobj).copy()
    tian[0, 0, 0] = tian[0, 0, 1] = 7  # both voxels of Schaefer parcel 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match=r"449 regions.*labels \[51\]"):
            official_brainjepa_atlas(_schaefer(), nib.Nifti1Image(tian, AFFINE))


def test_a_tian_image_on_another_grid_is_resampled():
    # The same Tian image, padded by 2 voxels in x with a shifted origin.
    tian = np.asarray(_tian().dataobj)
    padded = np.zeros((24, 20, 3), dtype=np.int16)
    padded[2:22] = tian
    affine = AFFINE.copy()
    affine[0, 3] = -6.0
    atlas = official_brainjepa_atlas(_schaefer(), nib.Nifti1Image(padded, affine))
    assert atlas.maps.shape == SHAPE
    merged = np.asarray(atlas.maps.dataobj)
    assert np.array_equal(merged[tian > 0], tian[tian > 0])


@pytest.mark.parametrize(
    ("schaefer", "tian", "match"),
    [
        (lambda: _schaefer(399), _tian, "schaefer400 has 399 regions.*17 networks"),
        (_schaefer, lambda: _tian(np.arange(1, 17)), "tian_s3 has 16 regions.*50"),
    ],
)
def test_region_counts_are_checked(schaefer, tian, match):
    with pytest.raises(ValueError, match=match):
        official_brainjepa_atlas(schaefer(), tian())


def test_other_errors(tmp_path):
    with pytest.raises(ValueError, match="17-network order"):
        official_brainjepa_atlas(
            _schaefer(), _tian(), schaefer_labels=_schaefer_names(7)
        )
    with pytest.raises(ValueError, match="tian_labels has 3 names"):
        official_brainjepa_atlas(_schaefer(), _tian(), tian_labels=["a", "b", "c"])
    probabilistic = nib.Nifti1Image(np.asarray(_tian().dataobj) * 0.5, AFFINE)
    with pytest.raises(ValueError, match="integer labels"):
        official_brainjepa_atlas(_schaefer(), probabilistic)
    four_d = nib.Nifti1Image(np.zeros((*SHAPE, 2)), AFFINE)
    with pytest.raises(ValueError, match="3-D label image"):
        official_brainjepa_atlas(four_d, _tian())
    with pytest.raises(FileNotFoundError, match="no such file"):
        official_brainjepa_atlas(tmp_path / "missing.nii.gz", _tian())


# ------------------------------------------ the official checkpoint's 450 ROIs
def test_roi_mismatch_with_450_names_the_official_atlas():
    with pytest.raises(ValueError, match="400 ROIs.*Tian Scale-III.*17-network"):
        check_n_rois(400, ROI_COUNT_OFFICIAL, "BrainJEPAEmbedder")
    with pytest.raises(ValueError) as info:
        check_n_rois(40, 50, "BrainJEPAEmbedder")
    assert "Tian" not in str(info.value)


@pytest.fixture(scope="module")
def official_450(tmp_path_factory):
    """A tiny official-layout checkpoint (450 ROIs, width 64, one block)."""
    torch = pytest.importorskip("torch")
    from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig

    gen = torch.Generator().manual_seed(0)
    gradients = torch.randn(450, 30, generator=gen)
    config = EncoderConfig(n_rois=450, embed_dim=64, depth=1, n_heads=4)
    ours = BrainJEPAEncoder(config, gradients, generator=gen).state_dict()
    state = {f"module.{k}": v for k, v in ours.items() if k != "gradients"}
    half = 32
    omega = 1.0 / 10000 ** (np.arange(half // 2) / (half / 2))
    angles = np.tile(np.arange(10.0), 450)[:, None] * omega[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], 1)
    state["module.pos_embed_proj.emb_h"] = torch.from_numpy(table).float()
    path = tmp_path_factory.mktemp("official") / "jepa-ep300.pth.tar"
    torch.save({"encoder": state, "target_encoder": state}, path)
    return path, gradients.numpy()


def test_official_checkpoint_refuses_data_of_another_atlas(official_450):
    from sk_brainjepa import BrainJEPAEmbedder

    path, gradients = official_450
    X = np.zeros((2, 400, 160), dtype=np.float32)
    with pytest.raises(ValueError, match="400 ROIs.*official_brainjepa_atlas"):
        BrainJEPAEmbedder(checkpoint=path, gradients=gradients).fit(X)
    with pytest.raises(ValueError, match="400 rows.*trained on 450 ROIs.*Tian"):
        BrainJEPAEmbedder(checkpoint=path, gradients=gradients[:400]).fit()
    assert BrainJEPAEmbedder(checkpoint=path, gradients=gradients).fit().n_rois_ == 450
