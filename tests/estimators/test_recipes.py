"""Recipes of the pretraining objective."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.estimators import RECIPES
from sk_brainjepa.estimators._recipes import (
    OBJECTIVE_PARAMS,
    RECIPE_PARAMS,
    recipe_objective,
    recipe_values,
)
from sk_brainjepa.training import Objective, official_ema_momentum


# ------------------------------------------------------------ recipes
def test_recipes_cover_every_parameter_and_explicit_values_win():
    for name, settings in RECIPES.items():
        assert set(settings) == set(RECIPE_PARAMS), name
    settings = recipe_values("paper", {"loss": "smooth_l1", "target_norm": None})
    assert settings["loss"] == "smooth_l1" and settings["target_norm"] == "layer"
    with pytest.raises(ValueError, match="recipe must be one of"):
        recipe_values("best", {})
    with pytest.raises(ValueError, match="'recipe' parameter .* must be a str among"):
        BrainJEPAPretrainer(recipe="best").fit(np.zeros((4, 3, 32)))


def test_paper_values_are_the_objective_defaults_written_once():
    # The paper recipe's loss terms are Objective's defaults (one table): a
    # change of either is a change of both.
    paper = RECIPES["paper"]
    defaults = Objective()
    for name in OBJECTIVE_PARAMS:
        assert paper[name] == getattr(defaults, name), name
    assert recipe_objective(paper) == defaults


def test_official_ema_schedule_reaches_the_trainer():
    X = np.random.default_rng(0).normal(size=(8, 4, 48)).astype(np.float32)
    common = dict(
        model_params={"depth": 1, "predictor_depth": 1},
        n_timepoints=48,
        max_epochs=2,
        batch_size=2,
        accumulation_steps=2,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        official = BrainJEPAPretrainer(recipe="official", **common).fit(X)
        linear = BrainJEPAPretrainer(recipe="paper", **common).fit(X)
    # 4 mini-batches, 2 optimiser steps per epoch: the official generator is
    # sized in mini-batches (8 in all) but advanced per step (4): it stalls.
    expected = official_ema_momentum(
        4, iterations_per_epoch=8, epochs=1, start_value=0.996, final_value=1.0
    )
    assert official.history_[-1]["momentum"] == pytest.approx(expected)
    assert linear.history_[-1]["momentum"] == pytest.approx(1.0)
    assert official.objective_["ema_schedule"] == "official"
    assert official.objective_["loss"] == "smooth_l1"
