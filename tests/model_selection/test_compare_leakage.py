"""Known answers of compare_models on multi-site cohorts with several runs per subject.

- A label drawn at random per participant has nothing to predict: with the runs
  of a participant kept on one side of every split the scores sit at chance;
  without, a model that recognises participants "predicts" it.
- A label whose prevalence differs between sites, in data where only the site
  carries information, is "predicted" from the site by FC + linear; with ComBat
  fitted on each training part it is at chance.

Statistical (fits over many repeats), hence slow.
"""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sk_brainjepa import FunctionalConnectivity, make_brain_dynamics
from sk_brainjepa.model_selection import compare_models

pytestmark = pytest.mark.slow


def test_runs_of_one_participant_on_both_sides_inflate_the_scores():
    X, pheno = make_brain_dynamics(
        n_subjects=40, n_rois=12, n_timepoints=600, runs_per_subject=3, random_state=0
    )
    participants = pheno["participant_id"].to_numpy()
    unique = np.unique(participants)
    coin = np.random.default_rng(0).permutation(np.arange(len(unique)) % 2)
    y = coin[np.searchsorted(unique, participants)]
    one_nn = make_pipeline(
        FunctionalConnectivity(output="vector", fisher_z=True), KNeighborsClassifier(1)
    )
    models = {"fc": "fc", "1-NN on FC": one_nn}
    leaky = compare_models(X, y, models=models, n_repeats=10, random_state=0)
    grouped = compare_models(
        X, y, models=models, groups=participants, n_repeats=10, random_state=0
    )
    for train, _val, test in grouped.splits:
        assert not set(participants[train]) & set(participants[test])
    # Nothing to learn: grouped scores are at chance (10 repeats of 8 test
    # participants: sd of the mean about 0.05).
    assert abs(grouped.summary.loc["1-NN on FC", "mean"] - 0.5) < 0.12
    assert abs(grouped.summary.loc["fc", "mean"] - 0.5) < 0.12
    # Ungrouped, the test runs' participants were seen in training.
    gain = (
        leaky.summary.loc["1-NN on FC", "mean"]
        - grouped.summary.loc["1-NN on FC", "mean"]
    )
    assert gain > 0.12
    assert leaky.summary.loc["1-NN on FC", "mean"] > 0.6


def test_combat_stops_a_site_confounded_label_being_predicted_from_site():
    X, pheno = make_brain_dynamics(
        n_subjects=120, n_rois=10, n_timepoints=120, n_sites=4, site_effect=1.0,
        random_state=0,
    )  # fmt: skip
    sites = pheno["site"].to_numpy()
    # 80 % prevalence at two sites, 20 % at the other two; no brain signal.
    prevalence = np.where(np.isin(sites, ["site-0", "site-1"]), 0.8, 0.2)
    y = (np.random.default_rng(0).random(len(sites)) < prevalence).astype(int)
    raw = compare_models(
        X, y, models=["fc", "tangent"], sites=sites, n_repeats=5, random_state=0
    )
    harmonized = compare_models(
        X, y, models=["fc", "tangent"], sites=sites, harmonize="combat",
        n_repeats=5, random_state=0,
    )  # fmt: skip
    for model in ("fc", "tangent"):
        assert raw.summary.loc[model, "mean"] > 0.65, raw.summary
        assert abs(harmonized.summary.loc[model, "mean"] - 0.5) < 0.1, (
            harmonized.summary
        )
    assert "ComBat" in harmonized.info["harmonize"] and raw.info["harmonize"] is None
