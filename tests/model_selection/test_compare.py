"""compare_models: same splits for all, choices on validation only, paired summary."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sk_brainjepa import (
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    ROIRobustScaler,
    make_brain_dynamics,
    probe_features,
)
from sk_brainjepa.model_selection import (
    MODEL_NAMES,
    ModelComparison,
    compare_models,
    corrected_paired_ttest,
)
from sk_brainjepa.model_selection._probe import _plan_splits
from sk_brainjepa.preprocessing import TangentConnectivity


@pytest.fixture(scope="module")
def cohort():
    X, pheno = make_brain_dynamics(
        n_subjects=48, n_rois=6, n_timepoints=64, random_state=0
    )
    return ROIRobustScaler().fit_transform(X), pheno


@pytest.fixture(scope="module")
def pretrainer(cohort):
    X, _ = cohort
    return BrainJEPAPretrainer(
        window_length=64, max_epochs=1, batch_size=16, random_state=0
    ).fit(X)


class _RecordingFC(TransformerMixin, BaseEstimator):
    """FC vectors; records the sample count of every fit (a stateful transformer)."""

    fitted_sizes: list = []

    def fit(self, X, y=None):
        type(self).fitted_sizes.append(len(X))
        return self

    def transform(self, X):
        return FunctionalConnectivity(output="vector").fit_transform(X)


def test_fc_scores_equal_probe_features_on_the_same_splits(cohort):
    X, pheno = cohort
    result = compare_models(X, pheno["sex"], models=["fc"], n_repeats=3, random_state=1)
    fc = FunctionalConnectivity(output="vector", fisher_z=True).fit_transform(X)
    table = probe_features(fc, pheno["sex"], n_repeats=3, random_state=1)
    np.testing.assert_allclose(
        result.scores["balanced_accuracy"].to_numpy(),
        table.loc[[0, 1, 2], "balanced_accuracy"].to_numpy(dtype=float),
    )
    assert list(result.scores["selected"]) == [
        f"C={c:g}" for c in table.loc[[0, 1, 2], "regularization"]
    ]


def test_every_model_gets_the_same_splits_and_stateful_features_fit_on_train(cohort):
    X, pheno = cohort
    _RecordingFC.fitted_sizes = []
    result = compare_models(
        X,
        pheno["diagnosis"],
        models={"fc": "fc", "recorded": _RecordingFC(), "tangent": "tangent"},
        n_repeats=2,
        random_state=0,
    )
    y = pheno["diagnosis"].to_numpy()
    expected = _plan_splits(
        np.unique(y, return_inverse=True)[1],
        "classification",
        2,
        (0.6, 0.2, 0.2),
        None,
        0,
    )
    for (tr, _va, te), (tr2, _va2, te2) in zip(result.splits, expected, strict=True):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(te, te2)
    sizes = result.scores.groupby("model")[["n_train", "n_val", "n_test"]].nunique()
    assert (sizes == 1).all().all()
    # The stateful transformer saw only each training part, never all samples.
    assert _RecordingFC.fitted_sizes == [len(s[0]) for s in result.splits]


def test_tangent_connectivity_fits_the_group_mean_on_training_subjects(cohort):
    X, _ = cohort
    a = TangentConnectivity().fit(X[:20])
    b = TangentConnectivity().fit(X[:30])
    assert not np.allclose(a.transform(X[40:]), b.transform(X[40:]))
    np.testing.assert_allclose(a.transform(X[40:]), a.transform(X[40:]))
    assert a.transform(X[40:]).shape == (8, 15)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        TangentConnectivity().fit(X[:1])


def test_summary_is_the_corrected_paired_test_against_the_reference(cohort):
    X, pheno = cohort
    result = compare_models(
        X, pheno["sex"], models=["partial", "fc"], n_repeats=4, random_state=0
    )
    assert result.reference == "fc"
    table = result.scores.pivot(
        index="repeat", columns="model", values="balanced_accuracy"
    )
    diff = table["partial"] - table["fc"]
    expected = corrected_paired_ttest(diff.to_numpy(), 28, 10)
    row = result.summary.loc["partial"]
    assert row["diff_mean"] == pytest.approx(expected["mean"])
    assert row["wins"] == (diff > 0).sum()
    assert np.isnan(result.summary.loc["fc", "t"])
    assert result.summary.loc["fc", "mean"] == pytest.approx(table["fc"].mean())


def test_corrected_test_is_wider_than_the_naive_one():
    d = np.array([0.05, 0.07, 0.02, 0.06, 0.04])
    r = corrected_paired_ttest(d, 60, 20)
    naive_se = d.std(ddof=1) / np.sqrt(len(d))
    assert r["se"] == pytest.approx(naive_se * np.sqrt(1 + 5 * 20 / 60))
    assert 0 < r["p"] < 0.05
    assert np.isnan(corrected_paired_ttest([0.1], 10, 5)["t"])
    assert corrected_paired_ttest([0.0, 0.0], 10, 5)["p"] == 1.0
    assert corrected_paired_ttest([1 / 3 - 1 / 12] * 3, 10, 5)["p"] == 0.0
    with pytest.raises(ValueError, match="NaN"):
        corrected_paired_ttest([0.1, np.nan], 10, 5)


def test_estimators_choose_their_grid_point_on_validation(cohort):
    X, pheno = cohort
    fc_logreg = make_pipeline(
        FunctionalConnectivity(output="vector"), LogisticRegression(max_iter=2000)
    )
    result = compare_models(
        X,
        pheno["sex"],
        models={
            "fc": "fc",
            "pipeline": (fc_logreg, {"logisticregression__C": [1e-3, 1.0]}),
            "dummy": DummyClassifier(strategy="most_frequent"),
        },
        n_repeats=2,
        random_state=0,
    )
    chosen = result.scores.loc[result.scores["model"] == "pipeline", "selected"]
    assert set(chosen) <= {"logisticregression__C=0.001", "logisticregression__C=1.0"}
    dummy = result.scores[result.scores["model"] == "dummy"]
    assert (dummy["balanced_accuracy"] == 0.5).all()


def test_brain_jepa_models_and_nets_run(cohort, pretrainer):
    X, pheno = cohort
    result = compare_models(
        X,
        pheno["age"],
        models=["fc", "probe", "probe-untrained", "finetune", "brainnetcnn"],
        pretrained=pretrainer,
        n_repeats=2,
        model_params={"finetune": {"max_epochs": 2}, "brainnetcnn": {"max_epochs": 2}},
        random_state=0,
    )
    assert result.metric == "pearson_r" and result.info["task"] == "regression"
    nets = result.scores[result.scores["model"].isin(["finetune", "brainnetcnn"])]
    assert nets["selected"].str.fullmatch(r"epoch \d of \d").all()
    assert list(result.summary.index) == [
        "fc",
        "probe",
        "probe-untrained",
        "finetune",
        "brainnetcnn",
    ]


def test_same_seed_same_scores(cohort):
    X, pheno = cohort
    a = compare_models(
        X,
        pheno["sex"],
        models=["fc", "bnt"],
        n_repeats=2,
        model_params={"bnt": {"max_epochs": 2}},
        random_state=3,
    )
    b = compare_models(
        X,
        pheno["sex"],
        models=["fc", "bnt"],
        n_repeats=2,
        model_params={"bnt": {"max_epochs": 2}},
        random_state=3,
    )
    cols = ["balanced_accuracy", "roc_auc", "selected"]
    pd.testing.assert_frame_equal(a.scores[cols], b.scores[cols])


def test_groups_keep_runs_of_one_participant_on_one_side(cohort):
    X, pheno = cohort
    groups = np.repeat(np.arange(16), 3)
    result = compare_models(
        X, pheno["sex"], models=["fc"], groups=groups, n_repeats=3, random_state=0
    )
    for train, val, test in result.splits:
        parts = [set(groups[p]) for p in (train, val, test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert result.info["n_groups"] == 16


def test_save_writes_tables_report_and_figure(cohort, tmp_path):
    X, pheno = cohort
    result = compare_models(
        X, pheno["sex"], models=["fc", "lag"], n_repeats=2, random_state=0
    )
    paths = result.save(tmp_path / "out" / "sex")
    names = sorted(p.name for p in paths)
    assert names == ["sex.json", "sex.md", "sex_scores.csv", "sex_summary.csv"]
    record = json.loads((tmp_path / "out" / "sex.json").read_text())
    assert record["info"]["target"] == "sex" and record["reference"] == "fc"
    assert len(record["scores"]) == 4
    report = (tmp_path / "out" / "sex.md").read_text()
    assert "| lag |" in report and "Nadeau-Bengio" in report
    assert isinstance(result, ModelComparison) and "lag" in repr(result)
    from sk_brainjepa.plotting import (
        plot_model_comparison,
        save_model_comparison_figure,
    )

    ax = plot_model_comparison(result)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc\n(reference)", "lag"]
    assert save_model_comparison_figure(result, tmp_path / "sex.png")
    assert (tmp_path / "sex.png").stat().st_size > 0
    with pytest.raises(TypeError, match="ModelComparison"):
        plot_model_comparison(result.scores)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"models": ["nope"]}, "Unknown model 'nope'"),
        ({"models": ["probe"]}, "needs pretrained="),
        ({"models": ["fc"], "reference": "bnt"}, "reference 'bnt'"),
        ({"models": ["fc"], "model_params": {"bnt": {}}}, "model_params names"),
        ({"models": ["fc"], "harmonize": "combat"}, "needs sites="),
        (
            {"models": ["fc"], "sites": np.zeros(3)},
            r"sites must have shape \(n_samples,\)",
        ),
        ({"models": ["fc"], "harmonize": "z"}, "harmonize must be"),
        ({"models": [], "n_repeats": 2}, "at least one model"),
        ({"models": [object()]}, "must be a name of"),
    ],
)
def test_errors_name_what_is_wrong(cohort, kwargs, match):
    X, pheno = cohort
    with pytest.raises((ValueError, TypeError), match=match):
        compare_models(X, pheno["sex"], **{"n_repeats": 2, **kwargs})


def test_every_named_model_is_documented():
    assert set(MODEL_NAMES) >= {
        "fc",
        "tangent",
        "partial",
        "lag",
        "brainnetcnn",
        "bnt",
        "probe",
        "finetune",
    }


# A one-site test part of 20 runs can leave a class out of a validation part.
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_site_splits_and_their_errors():
    X, pheno = make_brain_dynamics(
        n_subjects=30, n_rois=6, n_timepoints=64, n_sites=3, site_effect=0.5,
        runs_per_subject=2, random_state=0,
    )  # fmt: skip
    sites = pheno["site"].to_numpy()
    result = compare_models(
        X, pheno["sex"], models=["fc"], groups=pheno["participant_id"], sites=sites,
        by_site="leave_out", n_repeats=3, random_state=0,
    )  # fmt: skip
    assert [len(set(sites[test])) for _, _, test in result.splits] == [1, 1, 1]
    assert result.info["n_sites"] == 3 and "one whole site" in result.info["splits"]
    with pytest.raises(ValueError, match="left-out site has none"):
        compare_models(
            X,
            pheno["sex"],
            models=["fc"],
            sites=sites,
            by_site="leave_out",
            harmonize="combat",
            n_repeats=3,
        )
    with pytest.raises(ValueError, match="by_site"):
        compare_models(X, pheno["sex"], models=["fc"], sites=sites, by_site="x")
    with pytest.raises(ValueError, match="covariates are ComBat's"):
        compare_models(X, pheno["sex"], models=["fc"], covariates=pheno[["age"]])


def test_a_saved_folder_compares_raw_series_as_the_trained_pipeline(tmp_path):
    """The folder's recorded scaling reaches the probe and the fine-tuner alike."""
    from sklearn.pipeline import Pipeline

    from sk_brainjepa import SubjectRobustScaler
    from sk_brainjepa.estimators import save_pretrained

    X, pheno = make_brain_dynamics(
        n_subjects=40, n_rois=6, n_timepoints=64, random_state=0
    )
    pipe = Pipeline(
        [
            ("scale", SubjectRobustScaler()),
            (
                "jepa",
                BrainJEPAPretrainer(
                    window_length=64, max_epochs=1, batch_size=16, random_state=0
                ),
            ),
        ]
    ).fit(X)
    save_pretrained(pipe, tmp_path / "model", tr=2.0)
    kwargs = dict(
        models=["probe", "finetune"],
        n_repeats=2,
        random_state=0,
        model_params={"finetune": {"max_epochs": 2}},
    )
    from_folder = compare_models(
        X, pheno["sex"], pretrained=tmp_path / "model", **kwargs
    )
    from_pipeline = compare_models(
        SubjectRobustScaler().fit_transform(X),
        pheno["sex"],
        pretrained=pipe[-1],
        **kwargs,
    )
    cols = ["balanced_accuracy", "roc_auc"]
    pd.testing.assert_frame_equal(from_folder.scores[cols], from_pipeline.scores[cols])
