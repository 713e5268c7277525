"""Benchmark: does Brain-JEPA pretraining pay off under the paper's own protocol?

The paper pretrains on a cohort far larger than any labelled one and evaluates
on other, smaller, external cohorts where labels are few. This script runs that
protocol in miniature, on simulated cohorts and on the HCP recordings, and
compares every pretrained model with **the same untrained weights** read out or
fine-tuned the same way, with the same budget, over seeds.

Simulated world
    One group connectome (``make_brain_dynamics(connectome_random_state=...)``)
    shared by every cohort, as sites share an atlas. An unlabelled
    pretraining cohort (TR 2 s, noise 0.5) of ``pretrain_ratio`` (10 in full
    mode) times the size of each evaluation cohort, disjoint from them; two
    labelled evaluation cohorts from "other sites" (other subjects, other TR,
    other noise level). Tasks: the FC phenotypes (``sex``, ``diagnosis``,
    ``age``), the dynamics phenotypes ``burst_polarity`` and ``dwell`` (at
    chance even for supervised training at this scale), and ``direction`` of
    a strong lagged coupling: zero-lag FC cannot see it by construction, lag
    features and the same tiny encoder fine-tuned from scratch learn it with
    enough labels, so it is the task on which pretraining can show a gain.
HCP world
    The 7 HCP subjects of ``load_hcp_rest``: windows of 3 subjects (strided,
    overlapping) are the unlabelled pretraining cohort; non-overlapping windows
    of the other 4 the evaluation cohort (so evaluation subjects are never
    seen in pretraining). Tasks: ``reversal`` (a random half of the windows
    played backwards; FC is blind to it, lag features are not) and
    ``identity`` (which of the 4 subjects).

Every window is robust-scaled on its own (``SubjectRobustScaler``). For each
seed ``k``, one test part (``test_fraction`` of the cohort, stratified) and,
from the rest, labelled sets of each size in ``label_counts`` ("all" is the
whole rest); seed ``k`` is also the model seed, so seeds carry both sources of
noise. Linear probes: standardised features into ``RidgeClassifierCV`` /
``RidgeCV`` (closed-form leave-one-out choice of the penalty on the labelled
set only), for every readout of both encoders of every arm, and for the
baselines FC + linear and lag features (``DynamicFeatures(kind="lagged")``) +
linear. BrainNetCNN and BNT are trained on FC with the same labelled sets.
Fine-tuning (connectivity and lagged heads) from the pretrained weights and
from the same untrained weights, with the same settings, under each
fine-tuning variant of ``FINETUNE_VARIANTS``.

Parts (``--part``): ``main`` (everything above, within 90 minutes on 2
cores) and ``scaling`` (the paper's "performance scaling" and "epoch
ablation" in miniature: the default recipe on 250 / 1,000 / 4,000
pretraining subjects, 10 / 30 / 100 epochs, ``tiny`` and ``small``, probed at
the small label counts against the same untrained weights).

Run from the repository root::

    python benchmarks/transfer.py --quick            # about a minute
    python benchmarks/transfer.py                    # main part, full
    python benchmarks/transfer.py --part scaling

Writes ``<out>/transfer[_scaling][_quick].json`` (settings, every score,
pretraining records, wall times), the Markdown report rendered from it,
``..._scores.csv`` (one row per score) and ``..._curves.png``; ``--render
JSON`` re-renders a stored run.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (
    add_render_option,
    markdown_table,
    now,
    records,
    report_header,
    rerender,
    run_record,
    save_run,
    set_threads,
    setup_logging,
)
from joblib import Parallel, delayed
from scipy.stats import pearsonr
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    make_brain_dynamics,
)
from sk_brainjepa.baselines import BNTClassifier, BrainNetCNNClassifier
from sk_brainjepa.datasets import load_hcp_rest
from sk_brainjepa.preprocessing import DynamicFeatures, SubjectRobustScaler

logger = logging.getLogger("benchmarks")

BENCHMARK = "transfer"
PENALTIES = tuple(float(v) for v in 10.0 ** np.arange(-3, 5))
READOUTS = ("mean", "roi", "connectivity", "lagged")
ENCODERS = ("target", "online")
FINETUNE_HEADS = ("connectivity", "lagged")
# The official model's head (mean of the tokens), measured at lr 1e-3 only,
# to choose the fine-tuners' default head from the same runs.
MEAN_HEAD = "mean"

# The simulated world: one wiring of 16 ROIs in 2 networks, and two studies
# at each site. The "lag" study has a strong directed lag between the two
# networks (lagged_coupling=3): zero-lag FC cannot see its `direction`, lag
# features reach 1.0, and the tiny encoder fine-tuned from scratch learns it
# (0.95 and 0.99 balanced accuracy with 150 subjects, two seeds), so it is
# the task on which pretraining can show what it adds; its subjects also carry
# the FC phenotypes. The "states" study carries the other dynamics
# phenotypes (bursts, state switching); in one cohort with the lag they drown
# it (fine-tuning from scratch then stays at chance on `direction`), hence two
# studies. The pretraining cohort holds both kinds of subjects, half each.
SIMULATION = {"n_rois": 16, "n_networks": 2, "n_timepoints": 160}
STUDIES = {
    "lag": {"lagged_coupling": 3.0},
    "states": {"burstiness": 1.0, "state_switching": 1.0},
}
STUDY_TASKS = {
    "lag": ("direction", "sex", "diagnosis", "age"),
    "states": ("burst_polarity", "dwell"),
}
CONNECTOME_SEED = 2026
PRETRAINING_SITE = {"tr": 2.0, "noise_level": 0.5}
SITES = {
    "site A": {"tr": 1.5, "noise_level": 0.7},
    "site B": {"tr": 2.5, "noise_level": 0.35},
}
SIM_TASKS = {
    "direction": "classification",
    "sex": "classification",
    "diagnosis": "classification",
    "age": "regression",
    "burst_polarity": "classification",
    "dwell": "classification",
}
TASK_KIND = {
    "direction": "dynamics, learnable",
    "burst_polarity": "dynamics",
    "dwell": "dynamics",
    "sex": "FC",
    "diagnosis": "FC",
    "age": "FC",
    "reversal": "dynamics, real",
    "identity": "real",
}
HCP_TASKS = {"reversal": "classification", "identity": "classification"}

# Pretraining arms: BrainJEPAPretrainer parameters on top of the shared ones.
# Options ride on the default recipe (what a user gets), except the paper's
# recipe and SIGReg (which replaces the default's VICReg term). Every arm with
# random_state=k starts from the same weights as "untrained" with seed k (same
# gradients, same initialisation), except the patch-8 pair, which has its own.
ARMS = {
    "untrained": {"max_epochs": 0},
    "default": {},
    "paper": {"recipe": "paper"},
    "context loss": {"context_loss_weight": 1.0},
    "forecast": {"masking_params": {"forecast": True}},
    "sigreg": {"recipe": "paper", "sigreg_weight": 0.1},
    "consistency": {"consistency_weight": 1.0},
    "batch targets": {"target_norm": "batch"},
    "untrained, patch 8": {"patch_size": 8, "max_epochs": 0},
    "default, patch 8": {"patch_size": 8},
}
BASELINE_ARM = {"default, patch 8": "untrained, patch 8"}
HCP_ARMS = ("untrained", "default", "paper", "context loss", "forecast")
FINETUNE_ARMS = ("untrained", "default")

# Fine-tuning variants: BrainJEPAClassifier parameters. "library default"
# passes nothing (the fine-tuners' defaults); the others are the fixes measured.
FINETUNE_VARIANTS = {
    "library default": {},
    "lr 1e-3": {"lr": 1e-3},
    "lr 1e-3, LP-FT": {"lr": 1e-3, "head_init": "probe"},
    "lr 1e-3, warm-up": {"lr": 1e-3, "warmup_epochs": 3},
    "lr 1e-3, reinit top block": {"lr": 1e-3, "reinit_blocks": 1},
}

SETTINGS = {
    "full": {
        "n_eval": 200,
        "pretrain_ratio": 10,
        "epochs": 15,
        "batch_size": 32,
        "seeds": [0, 1, 2],
        "label_counts": [20, 50, 100, "all"],
        "test_fraction": 0.4,
        "arms": list(ARMS),
        "hcp_arms": list(HCP_ARMS),
        "hcp_window": 48,
        "hcp_pretrain_subjects": 3,
        "hcp_pretrain_stride": 3,
        "finetune_epochs": 30,
        "finetune_tasks": {"site A": ["direction"], "hcp": ["reversal"]},
        "finetune_variants": list(FINETUNE_VARIANTS),
        "finetune_variant_counts": [20, "all"],
        "fc_net_epochs": 30,
        "fc_net_sites": ["site A", "site A, states"],
        "n_jobs": 2,
    },
    "quick": {
        "n_eval": 30,
        "pretrain_ratio": 2,
        "epochs": 1,
        "batch_size": 16,
        "seeds": [0],
        "label_counts": [10, "all"],
        "test_fraction": 0.4,
        "arms": ["untrained", "default", "context loss", "forecast"],
        "hcp_arms": ["untrained", "default"],
        "hcp_window": 48,
        "hcp_pretrain_subjects": 3,
        "hcp_pretrain_stride": 100,
        "finetune_epochs": 1,
        "finetune_tasks": {"site A": ["direction"], "hcp": ["reversal"]},
        "finetune_variants": ["library default", "lr 1e-3, LP-FT"],
        "finetune_variant_counts": ["all"],
        "fc_net_epochs": 1,
        "fc_net_sites": ["site A"],
        "n_jobs": 1,
    },
}

SCALING_SETTINGS = {
    "full": {
        "n_eval": 200,
        "batch_size": 32,
        "seeds": [0, 1],
        "label_counts": [20, 50, "all"],
        "test_fraction": 0.4,
        # (model, patch size, pretraining subjects, epochs); each (model, patch
        # size) also gets its untrained twin. Cohort size at 15 epochs (the main
        # part's), epochs at 1,000 subjects, then model size and frame-scale
        # tokens (patches of 8 and 4 frames) at 1,000 subjects and 15 epochs.
        "runs": [
            ("tiny", 16, 250, 15),
            ("tiny", 16, 1000, 15),
            ("tiny", 16, 4000, 15),
            ("tiny", 16, 1000, 10),
            ("tiny", 16, 1000, 30),
            ("tiny", 16, 1000, 100),
            ("small", 16, 1000, 15),
            ("tiny", 8, 1000, 15),
            ("tiny", 4, 1000, 15),
        ],
        "tasks": ["direction", "sex", "dwell"],
        "readouts": ["connectivity", "lagged"],
        "n_jobs": 2,
    },
    "quick": {
        "n_eval": 30,
        "batch_size": 16,
        "seeds": [0],
        "label_counts": ["all"],
        "test_fraction": 0.4,
        "runs": [("tiny", 16, 20, 1), ("tiny", 16, 40, 1), ("tiny", 8, 20, 1)],
        "tasks": ["direction"],
        "readouts": ["lagged"],
        "n_jobs": 1,
    },
}


# --------------------------------------------------------------------- data
def simulate(n_subjects: int, site: dict, study: str, seed: int):
    """Scaled series and labels of one simulated cohort on the shared wiring.

    Returns
    -------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints), float32
    labels : dict of {task: ndarray of shape (n_subjects,)}
        The tasks of ``study``.
    """
    X, pheno = make_brain_dynamics(
        n_subjects,
        **SIMULATION,
        **STUDIES[study],
        **site,
        random_state=seed,
        connectome_random_state=CONNECTOME_SEED,
    )
    labels = {task: pheno[task].to_numpy() for task in STUDY_TASKS[study]}
    return SubjectRobustScaler().fit_transform(X).astype(np.float32), labels


def pretraining_cohort(n_subjects: int) -> np.ndarray:
    """The unlabelled cohort: half "lag" subjects, half "states" subjects."""
    halves = [
        simulate(n, PRETRAINING_SITE, study, seed=1 + k)[0]
        for k, (study, n) in enumerate(
            zip(STUDIES, (n_subjects - n_subjects // 2, n_subjects // 2))
        )
    ]
    return np.concatenate(halves)


def simulated_world(cfg: dict) -> dict:
    """The unlabelled pretraining cohort and the labelled cohorts of each site.

    Different ``random_state`` per cohort: disjoint subjects; the same
    ``connectome_random_state``: one wiring (atlas) for all. Cohort names are
    the site, with ``", states"`` for the states study.
    """
    n_pretrain = cfg["n_eval"] * cfg["pretrain_ratio"]
    cohorts = {}
    for offset, (name, site) in enumerate(SITES.items()):
        for k, study in enumerate(STUDIES):
            label = name if study == "lag" else f"{name}, {study}"
            cohorts[label] = simulate(cfg["n_eval"], site, study, 101 + 10 * offset + k)
    pretrain = pretraining_cohort(n_pretrain) if n_pretrain else None
    return {"pretrain": pretrain, "sites": cohorts, "tasks": SIM_TASKS}


def hcp_world(cfg: dict, seed: int = 0) -> dict:
    """HCP windows: pretraining windows of some subjects, labelled windows of others.

    Returns
    -------
    world : dict
        ``pretrain`` (n_windows, 94, window), ``sites`` with one cohort
        ``"hcp"``: its windows and the ``reversal`` and ``identity`` labels.
    """
    series, ids = load_hcp_rest()
    window = cfg["hcp_window"]
    n_pre = cfg["hcp_pretrain_subjects"]
    stride = cfg["hcp_pretrain_stride"]
    pretrain = [
        x[:, start : start + window]
        for x in series[:n_pre]
        for start in range(0, x.shape[1] - window + 1, stride)
    ]
    windows, identity = [], []
    for subject, x in enumerate(series[n_pre:]):
        for start in range(0, x.shape[1] - window + 1, window):
            windows.append(x[:, start : start + window])
            identity.append(subject)
    windows = np.stack(windows)
    rng = np.random.default_rng(seed)
    reversal = (rng.random(len(windows)) < 0.5).astype(int)
    windows[reversal == 1] = windows[reversal == 1][:, :, ::-1]
    scaler = SubjectRobustScaler()
    labels = {"reversal": reversal, "identity": np.asarray(identity)}
    return {
        "pretrain": scaler.fit_transform(np.stack(pretrain)).astype(np.float32),
        "sites": {"hcp": (scaler.fit_transform(windows).astype(np.float32), labels)},
        "tasks": HCP_TASKS,
        "subjects": {"pretraining": list(ids[:n_pre]), "evaluation": list(ids[n_pre:])},
    }


# ------------------------------------------------------------------- splits
def label_splits(y, kind: str, label_counts, test_fraction: float, seed: int):
    """One test part and a labelled set of each size from the rest.

    Returns
    -------
    test : ndarray of int
    labelled : dict of {label count: ndarray of int}
        ``"all"`` is every non-test subject; sizes larger than that are
        skipped.
    """
    index = np.arange(len(y))
    stratify = y if kind == "classification" else None
    pool, test = train_test_split(
        index, test_size=test_fraction, stratify=stratify, random_state=seed
    )
    labelled = {}
    for count in label_counts:
        if count == "all":
            labelled["all"] = pool
        elif count < len(pool):
            labelled[count], _ = train_test_split(
                pool,
                train_size=count,
                stratify=None if stratify is None else y[pool],
                random_state=seed,
            )
    return test, labelled


def score(y_true, y_pred, kind: str) -> float:
    """Balanced accuracy for classes, Pearson r for a continuous target."""
    if kind == "classification":
        return float(balanced_accuracy_score(y_true, y_pred))
    if np.std(y_pred) == 0:
        return float("nan")
    return float(pearsonr(y_true, y_pred)[0])


def probe(features, y, train, test, kind: str) -> float:
    """Linear probe: standardise, ridge with a leave-one-out penalty, test score."""
    model = RidgeClassifierCV if kind == "classification" else RidgeCV
    pipe = make_pipeline(StandardScaler(), model(alphas=PENALTIES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(features[train], y[train])
    return score(y[test], pipe.predict(features[test]), kind)


# --------------------------------------------------------------- pretraining
def _worker_setup(cfg: dict) -> None:
    """Threads and logging of a joblib worker (which starts with torch's
    default thread count and no log handler)."""
    set_threads(cfg["threads"])
    setup_logging()


def pretrain(X, arm: str, seed: int, cfg: dict, n_timepoints: int, **extra):
    """Fit one arm; the pretrainer and a record of the run."""
    params = {"n_timepoints": n_timepoints, "batch_size": cfg["batch_size"]}
    params.update({"max_epochs": cfg.get("epochs", 1), **ARMS.get(arm, {}), **extra})
    pre = BrainJEPAPretrainer(random_state=seed, **params)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pre.fit(X)
    last = pre.history_[-1] if pre.history_ else {}
    return pre, {
        "arm": arm,
        "seed": seed,
        "subjects": len(X),
        "epochs": params["max_epochs"],
        "model": params.get("model", "tiny"),
        "seconds": time.perf_counter() - start,
        "loss_last": last.get("loss"),
        "target_sample_spread": last.get("target_sample_spread"),
        "position_share": last.get("position_share"),
        "rankme": last.get("rankme"),
        "warnings": sorted({w.category.__name__ for w in caught}),
    }


def embed_all(pre, sites: dict, readouts=READOUTS, encoders=ENCODERS) -> dict:
    """Features of every site cohort, per (encoder, readout)."""
    features = {}
    for site, (X, _) in sites.items():
        for encoder in encoders:
            for readout in readouts:
                embedder = BrainJEPAEmbedder(
                    pretrainer=pre, readout=readout, source_encoder=encoder
                )
                features[site, encoder, readout] = embedder.fit(X).transform(X)
    return features


def encoder_statistics(pre, X) -> dict:
    """What fine-tuning starts from: weight and activation scales of the encoder.

    ``weight_norm`` (L2 norm of every target-encoder parameter), ``block_norms``
    (per block), ``final_norm_gain`` (mean |scale| of the last LayerNorm),
    ``token_rms`` (RMS of the output tokens on up to 64 evaluation windows) and
    ``token_subject_sd`` (their SD across those subjects, per token and
    feature, averaged: how much of the output is about the subject).
    """
    import torch

    encoder = pre.target_encoder_
    window = torch.from_numpy(np.ascontiguousarray(X[:64, :, : pre.window_length]))
    with torch.no_grad():
        tokens = encoder(window)
        params = torch.cat([p.flatten() for p in encoder.parameters()])
        blocks = [
            float(torch.cat([p.flatten() for p in b.parameters()]).norm())
            for b in encoder.blocks
        ]
    return {
        "weight_norm": float(params.norm()),
        "block_norms": blocks,
        "final_norm_gain": float(encoder.norm.weight.abs().mean()),
        "token_rms": float(tokens.pow(2).mean().sqrt()),
        "token_subject_sd": float(tokens.std(dim=0).mean()),
    }


def pretrain_and_embed(world, arm, seed, cfg, n_timepoints, keep: bool):
    """One pretraining job: the record, the features, the model if ``keep``."""
    _worker_setup(cfg)
    pre, record = pretrain(world["pretrain"], arm, seed, cfg, n_timepoints)
    first_site = next(iter(world["sites"].values()))[0]
    record.update(encoder_statistics(pre, first_site))
    features = embed_all(pre, world["sites"])
    logger.info(
        "pretrained %s seed %d on %d windows in %.0f s",
        arm,
        seed,
        record["subjects"],
        record["seconds"],
    )
    return record, features, pre if keep else None


# ------------------------------------------------------------------ scoring
def labelled_sets(world_name, site, task, seeds, splits):
    """Every labelled set of one cohort and task, seed by seed.

    Yields
    ------
    count : int or "all"
        The label count.
    train, test : ndarray of int
    meta : dict
        The columns every score row of this set shares: world, site, task,
        label count (as text), its size and the seed.
    """
    for seed in seeds:
        test, labelled = splits[site, task, seed]
        for count, train in labelled.items():
            meta = {
                "world": world_name,
                "site": site,
                "task": task,
                "labels": str(count),
                "n_labels": len(train),
                "seed": seed,
            }
            yield count, train, test, meta

def probe_rows(world_name, world, features_by_arm, splits, cfg) -> list[dict]:
    """Linear-probe scores of every arm, encoder, readout, task and label count."""
    rows = []
    for (arm, seed), features in features_by_arm.items():
        for (site, encoder, readout), F in features.items():
            labels = world["sites"][site][1]
            for task in labels:
                kind = world["tasks"][task]
                for _, train, test, meta in labelled_sets(
                    world_name, site, task, [seed], splits
                ):
                    rows.append(
                        {
                            **meta,
                            "model": arm,
                            "method": "probe",
                            "encoder": encoder,
                            "readout": readout,
                            "score": probe(F, labels[task], train, test, kind),
                        }
                    )
    return rows


def baseline_rows(world_name, world, splits, cfg) -> list[dict]:
    """FC + linear and lag features + linear at every label count."""
    rows = []
    for site, (X, labels) in world["sites"].items():
        baselines = {
            "FC + linear": FunctionalConnectivity(
                fisher_z=True, output="vector"
            ).fit_transform(X),
            "lag features + linear": DynamicFeatures(kind="lagged").fit_transform(X),
            # Lags, moments and windowed-FC states: the hand-made reference for
            # the bursts and state switching that lag features do not see.
            "dynamic features + linear": DynamicFeatures().fit_transform(X),
        }
        for name, F in baselines.items():
            for task in labels:
                kind = world["tasks"][task]
                for _, train, test, meta in labelled_sets(
                    world_name, site, task, cfg["seeds"], splits
                ):
                    rows.append(
                        {
                            **meta,
                            "model": name,
                            "method": "probe",
                            "encoder": "",
                            "readout": "",
                            "score": probe(F, labels[task], train, test, kind),
                        }
                    )
    return rows


def fc_net_job(Net, name, fc, y, train, test, seed, cfg, meta) -> dict:
    """BrainNetCNN or BNT on FC matrices, early stopping inside the labelled set."""
    _worker_setup(cfg)
    net = Net(max_epochs=cfg["fc_net_epochs"], random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(fc[train], y[train])
    return {
        **meta,
        "model": name,
        "method": "trained on FC",
        "score": score(y[test], net.predict(fc[test]), "classification"),
    }


def finetune_job(pre, arm, variant, head, X, y, train, test, seed, cfg, meta):
    """Fine-tune one start (pretrained or untrained) with one variant and head."""
    _worker_setup(cfg)
    params = {
        "pretrainer": pre,
        "max_epochs": cfg["finetune_epochs"],
        "module__readout": head,
        # BatchNorm before the head for the second-order readouts, where a
        # LayerNorm over ROI pairs would remove each subject's mean coupling;
        # the official LayerNorm for the mean readout.
        "module__head_norm": "layernorm" if head == MEAN_HEAD else "batchnorm",
        "random_state": seed,
        **FINETUNE_VARIANTS[variant],
    }
    net = BrainJEPAClassifier(**params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X[train], y[train])
    history = net.history_
    train_score = score(y[train], net.predict(X[train]), "classification")
    return {
        **meta,
        "model": arm,
        "method": f"fine-tune ({variant})",
        "variant": variant,
        "readout": head,
        "score": score(y[test], net.predict(X[test]), "classification"),
        "train_score": train_score,
        "epochs_run": len(history),
        "seconds": time.perf_counter() - start,
        # The last value recorded (an epoch ended by early stopping may lack it).
        **{
            key: next((h[key] for h in reversed(history) if key in h), None)
            for key in ("encoder_shift", "feature_shift", "head_norm", "grad_norm")
        },
    }


def finetune_jobs(world_name, world, splits, pretrainers, cfg):
    """Delayed fine-tuning and FC-net jobs of one world."""
    jobs = []
    for site, tasks in cfg["finetune_tasks"].items():
        if site not in world["sites"]:
            continue
        X, labels = world["sites"][site]
        for task in tasks:
            y = labels[task]
            for count, train, test, meta in labelled_sets(
                world_name, site, task, cfg["seeds"], splits
            ):
                meta["encoder"] = "target"
                seed = meta["seed"]
                variants = (
                    cfg["finetune_variants"]
                    if count in cfg["finetune_variant_counts"]
                    else ["library default", "lr 1e-3"]
                )
                variants = [v for v in variants if v in cfg["finetune_variants"]]
                for variant in variants:
                    heads = (
                        (*FINETUNE_HEADS, MEAN_HEAD)
                        if variant == "lr 1e-3"
                        else ("connectivity",)
                    )
                    for head in heads:
                        for arm in FINETUNE_ARMS:
                            jobs.append(
                                delayed(finetune_job)(
                                    pretrainers[arm, seed],
                                    arm,
                                    variant,
                                    head,
                                    X,
                                    y,
                                    train,
                                    test,
                                    seed,
                                    cfg,
                                    meta,
                                )
                            )
    for site in cfg["fc_net_sites"]:
        if site not in world["sites"]:
            continue
        X, labels = world["sites"][site]
        fc = FunctionalConnectivity().fit_transform(X).astype(np.float32)
        for task in labels:
            if world["tasks"][task] != "classification":
                continue
            for _, train, test, meta in labelled_sets(
                world_name, site, task, cfg["seeds"], splits
            ):
                meta.update(encoder="", readout="")
                for name, Net in (
                    ("BrainNetCNN", BrainNetCNNClassifier),
                    ("BNT", BNTClassifier),
                ):
                    jobs.append(
                        delayed(fc_net_job)(
                            Net,
                            name,
                            fc,
                            labels[task],
                            train,
                            test,
                            meta["seed"],
                            cfg,
                            meta,
                        )
                    )
    return jobs


def all_splits(world, cfg) -> dict:
    """``(site, task, seed) -> (test, labelled)`` for one world."""
    splits = {}
    for site, (_, labels) in world["sites"].items():
        for task in labels:
            kind = world["tasks"][task]
            counts = cfg["label_counts"]
            for seed in cfg["seeds"]:
                splits[site, task, seed] = label_splits(
                    labels[task], kind, counts, cfg["test_fraction"], seed
                )
    return splits


def run_world(world_name, world, arms, cfg, n_timepoints) -> tuple[list, list]:
    """Pretrain every arm and seed, then probe, fine-tune and train baselines."""
    splits = all_splits(world, cfg)
    jobs = [
        delayed(pretrain_and_embed)(
            world, arm, seed, cfg, n_timepoints, keep=arm in FINETUNE_ARMS
        )
        for arm in arms
        for seed in cfg["seeds"]
    ]
    results = Parallel(n_jobs=cfg["n_jobs"])(jobs)
    pretraining, features, pretrainers = [], {}, {}
    for record, feats, pre in results:
        record["world"] = world_name
        pretraining.append(record)
        features[record["arm"], record["seed"]] = feats
        if pre is not None:
            pretrainers[record["arm"], record["seed"]] = pre
    rows = probe_rows(world_name, world, features, splits, cfg)
    rows += baseline_rows(world_name, world, splits, cfg)
    logger.info("%s: probes done (%d scores); fine-tuning", world_name, len(rows))
    rows += Parallel(n_jobs=cfg["n_jobs"])(
        finetune_jobs(world_name, world, splits, pretrainers, cfg)
    )
    return rows, pretraining


# ------------------------------------------------------------------ scaling
def scaling_job(run, seed, world, cfg):
    """Pretrain one (model, patch, subjects, epochs) run (and its twin); probe.

    Every run is positioned by the same gradients (``world["gradients"]``), so
    the untrained twin of a model size and patch size is exactly the start of
    each of its runs, whatever the cohort size.
    """
    _worker_setup(cfg)
    model, patch_size, n_subjects, epochs = run
    name = model if patch_size == 16 else f"{model}, patch {patch_size}"
    X_pre = pretraining_cohort(n_subjects)
    rows, records_ = [], []
    for arm, max_epochs in (("untrained", 0), ("default", epochs)):
        if arm == "untrained" and run != _twin_run(run, cfg):
            continue
        pre, record = pretrain(
            X_pre,
            arm,
            seed,
            {"batch_size": cfg["batch_size"]},
            SIMULATION["n_timepoints"],
            model=model,
            patch_size=patch_size,
            max_epochs=max_epochs,
            gradients=world["gradients"],
        )
        record["model"] = name
        records_.append(record)
        features = embed_all(
            pre, world["sites"], readouts=cfg["readouts"], encoders=("target",)
        )
        for (site, encoder, readout), F in features.items():
            labels = world["sites"][site][1]
            for task in labels:
                kind = SIM_TASKS[task]
                test, labelled = world["splits"][site, task, seed]
                for count, train in labelled.items():
                    rows.append(
                        {
                            "model_size": name,
                            "pretrain_subjects": n_subjects if max_epochs else 0,
                            "epochs": max_epochs,
                            "arm": arm,
                            "site": site,
                            "task": task,
                            "readout": readout,
                            "labels": str(count),
                            "seed": seed,
                            "score": probe(F, labels[task], train, test, kind),
                        }
                    )
    return rows, records_


def _twin_run(run, cfg):
    """The first run of ``run``'s model and patch size: it also measures the
    untrained weights they all start from."""
    return next(r for r in cfg["runs"] if r[:2] == run[:2])


def run_scaling(cfg) -> tuple[list, list]:
    """Every scaling run and seed, on site A of the simulated world."""
    world = simulated_world({**cfg, "pretrain_ratio": 0})
    world["sites"] = {
        name: (X, {t: y[t] for t in cfg["tasks"] if t in y})
        for name, (X, y) in world["sites"].items()
        if name.startswith("site A") and any(t in y for t in cfg["tasks"])
    }
    world["splits"] = all_splits(world, cfg)
    # One set of gradients for every run, from a 1,000-subject cohort (or the
    # largest one when smaller), so that the untrained twin is exactly the
    # start of every run of its model size.
    X_ref = pretraining_cohort(min(1000, max(r[1] for r in cfg["runs"])))
    world["gradients"] = (
        BrainJEPAPretrainer(max_epochs=0, random_state=0).fit(X_ref).gradients_
    )
    results = Parallel(n_jobs=cfg["n_jobs"])(
        delayed(scaling_job)(run, seed, world, cfg)
        for run in cfg["runs"]
        for seed in cfg["seeds"]
    )
    rows = [row for part, _ in results for row in part]
    pretraining = [rec for _, part in results for rec in part]
    return rows, pretraining


# ------------------------------------------------------------------ reports
def _cell(values) -> str:
    values = np.asarray([v for v in values if v is not None], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "n/a"
    if values.size == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def _label_order(labels) -> list[str]:
    numbers = sorted(int(v) for v in set(labels) if v != "all")
    return [str(v) for v in numbers] + (["all"] if "all" in set(labels) else [])


def best_probe_table(scores: pd.DataFrame, world: str) -> str:
    """Per task and label count: untrained, default and baselines, one readout each.

    The readout of the Brain-JEPA rows is fixed in advance per task kind
    (``lagged`` for dynamics tasks, ``connectivity`` for FC and real tasks,
    the target encoder), not picked after the fact.
    """
    part = scores[(scores["world"] == world) & (scores["method"] == "probe")]
    rows = []
    for (site, task), cell in part.groupby(["site", "task"], sort=False):
        readout = "lagged" if "dynamics" in TASK_KIND[task] else "connectivity"
        for labels in _label_order(cell["labels"]):
            at = cell[cell["labels"] == labels]
            jepa = at[(at["encoder"] == "target") & (at["readout"] == readout)]
            row = [site, task, labels, readout]
            for model in ("untrained", "default"):
                row.append(_cell(jepa.loc[jepa["model"] == model, "score"]))
            gain = _paired_gain(jepa, "default", "untrained")
            row.append(gain)
            for model in ("FC + linear", "lag features + linear"):
                row.append(_cell(at.loc[at["model"] == model, "score"]))
            rows.append(row)
    header = [
        "site",
        "task",
        "labels",
        "readout",
        "untrained",
        "default",
        "default - untrained (paired)",
        "FC + linear",
        "lag features + linear",
    ]
    return markdown_table(header, rows)


def _paired_gain(frame: pd.DataFrame, model: str, reference: str) -> str:
    """Mean ± sd over seeds of ``model - reference`` on the same seed and split."""
    a = frame[frame["model"] == model].set_index("seed")["score"]
    b = frame[frame["model"] == reference].set_index("seed")["score"]
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return "n/a"
    return _cell((a[common] - b[common]).to_numpy())


def arms_table(scores: pd.DataFrame, world: str) -> str:
    """Every arm against its untrained twin, target and online, each readout.

    At the two smallest label counts, where the paper's claim lives; every
    task, encoder and readout has its row (nothing is averaged or picked).
    """
    part = scores[(scores["world"] == world) & (scores["method"] == "probe")]
    counts = _label_order(part["labels"])[:2]
    part = part[part["labels"].isin(counts) & (part["encoder"] != "")]
    rows = []
    for (site, task, labels, encoder, readout), cell in part.groupby(
        ["site", "task", "labels", "encoder", "readout"], sort=False
    ):
        row = [site, task, labels, encoder, readout]
        for arm in [a for a in ARMS if a in set(cell["model"])]:
            text = _cell(cell.loc[cell["model"] == arm, "score"])
            if arm in ARMS and ARMS[arm].get("max_epochs") != 0:
                twin = BASELINE_ARM.get(arm, "untrained")
                text += f" ({_paired_gain(cell, arm, twin).split(' ±')[0]:s})"
            row.append(text)
        rows.append(row)
    arms = [a for a in ARMS if a in set(part["model"])]
    return markdown_table(["site", "task", "labels", "encoder", "readout", *arms], rows)


def finetune_table(scores: pd.DataFrame) -> str:
    """Fine-tuning from the pretrained and from the untrained weights, paired."""
    part = scores[scores["method"].str.startswith("fine-tune")]
    rows = []
    for (world, site, task, variant, head), cell in part.groupby(
        ["world", "site", "task", "variant", "readout"], sort=False
    ):
        for labels in _label_order(cell["labels"]):
            at = cell[cell["labels"] == labels]
            rows.append(
                [
                    site,
                    task,
                    variant,
                    head,
                    labels,
                    _cell(at.loc[at["model"] == "untrained", "score"]),
                    _cell(at.loc[at["model"] == "default", "score"]),
                    _paired_gain(at, "default", "untrained"),
                    _cell(at.loc[at["model"] == "default", "feature_shift"])
                    if "feature_shift" in at
                    else "n/a",
                ]
            )
    header = [
        "site",
        "task",
        "variant",
        "head",
        "labels",
        "from untrained",
        "from pretrained (default)",
        "pretrained - untrained (paired)",
        "feature shift (pretrained)",
    ]
    return markdown_table(header, rows)


def finetune_diagnostics_table(scores: pd.DataFrame) -> str:
    """Why fine-tuning does (not) learn: training score, epochs, shifts, per start."""
    part = scores[scores["method"].str.startswith("fine-tune")]
    keys = ("train_score", "epochs_run", "feature_shift", "encoder_shift", "grad_norm")
    rows = []
    for (world, task, variant, head, start), cell in part.groupby(
        ["world", "task", "variant", "readout", "model"], sort=False
    ):
        for labels in _label_order(cell["labels"]):
            at = cell[cell["labels"] == labels]
            rows.append(
                [task, variant, head, labels, start]
                + [_cell(at[key]) if key in at else "n/a" for key in keys]
            )
    header = ["task", "variant", "head", "labels", "start", *keys]
    return markdown_table(header, rows)


def fc_net_table(scores: pd.DataFrame) -> str:
    part = scores[scores["method"] == "trained on FC"]
    rows = []
    for (site, task, model), cell in part.groupby(["site", "task", "model"], sort=False):
        for labels in _label_order(cell["labels"]):
            rows.append(
                [site, task, model, labels, _cell(cell.loc[cell["labels"] == labels, "score"])]
            )
    return markdown_table(["site", "task", "model", "labels", "score"], rows)


def pretraining_table(pretraining: list[dict]) -> str:
    header = [
        "world",
        "arm",
        "seed",
        "model",
        "subjects",
        "epochs",
        "seconds",
        "last loss",
        "target sample spread",
        "position share",
        "rankme",
        "weight norm",
        "token RMS",
        "token SD across subjects",
        "warnings",
    ]
    rows = [
        [
            r.get("world", "simulated"),
            r["arm"],
            r["seed"],
            r.get("model", "tiny"),
            r["subjects"],
            r["epochs"],
            f"{r['seconds']:.0f}",
            *(
                "n/a" if r.get(key) is None else f"{r[key]:.3f}"
                for key in (
                    "loss_last",
                    "target_sample_spread",
                    "position_share",
                    "rankme",
                    "weight_norm",
                    "token_rms",
                    "token_subject_sd",
                )
            ),
            ", ".join(r["warnings"]) or "none",
        ]
        for r in pretraining
    ]
    return markdown_table(header, rows)


def scaling_table(scores: pd.DataFrame) -> str:
    """Score of each scaling run and the untrained twin, per task and label count."""
    rows = []
    for (task, readout, labels), cell in scores.groupby(
        ["task", "readout", "labels"], sort=False
    ):
        for (model, subjects, epochs), run in cell.groupby(
            ["model_size", "pretrain_subjects", "epochs"], sort=True
        ):
            twin = cell[(cell["model_size"] == model) & (cell["arm"] == "untrained")]
            gain = "n/a"
            if epochs:
                merged = run.set_index("seed")["score"] - twin.set_index("seed")["score"]
                gain = _cell(merged.dropna().to_numpy())
            rows.append(
                [task, readout, labels, model, subjects, epochs, _cell(run["score"]), gain]
            )
    header = [
        "task",
        "readout",
        "labels",
        "model",
        "pretraining subjects",
        "epochs",
        "score",
        "minus untrained (paired)",
    ]
    return markdown_table(header, rows)


def render(results: dict) -> str:
    """The Markdown report of a run record."""
    scores = pd.DataFrame(results["scores"])
    cfg = results["settings"]
    lines = report_header(
        "# Transfer: pretraining under the paper's protocol"
        + (" (scaling)" if results["part"] == "scaling" else ""),
        results,
    )
    lines += [
        f"Part `{results['part']}`; settings: `{cfg}`.",
        "",
        f"Simulation: `{results['simulation']}` on one connectome "
        f"(connectome_random_state={CONNECTOME_SEED}); pretraining site "
        f"`{results['pretraining_site']}`, evaluation sites `{results['sites']}`. "
        "Every window robust-scaled on its own. Probes: standardised features, "
        "ridge classifier / ridge with a leave-one-out penalty on the labelled "
        "set; balanced accuracy (classes) or Pearson r (age) on the test part. "
        "Cells: mean ± sd over seeds (seed k: model seed k and label split k); "
        "paired differences are taken seed by seed.",
        "",
    ]
    if results["part"] == "scaling":
        lines += ["## Scaling", "", scaling_table(scores), ""]
    else:
        if "hcp" in results:
            lines += [f"HCP: {results['hcp']}", ""]
        for world in ("simulated", "hcp"):
            if world not in set(scores["world"]):
                continue
            lines += [
                f"## Linear probes, {world}: default recipe against the same "
                "untrained weights and the baselines",
                "",
                best_probe_table(scores, world),
                "",
                f"## Every arm, {world} (probe score; in brackets the paired "
                "difference to the untrained twin)",
                "",
                arms_table(scores, world),
                "",
            ]
        lines += ["## Fine-tuning", "", finetune_table(scores), ""]
        lines += [
            "## Fine-tuning diagnostics (mean ± sd over seeds; the shifts are "
            "measured on the training windows, n/a where not recorded)",
            "",
            finetune_diagnostics_table(scores),
            "",
        ]
        lines += ["## BrainNetCNN and BNT on FC", "", fc_net_table(scores), ""]
    lines += ["## Pretraining runs", "", pretraining_table(results["pretraining"]), ""]
    return "\n".join(lines)


def save_curves(scores: pd.DataFrame, path: Path, part: str) -> None:
    """Score against label count (main) or pretraining size (scaling)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: %s is skipped", path)
        return
    if part == "scaling":
        tasks = list(dict.fromkeys(scores["task"]))
        fig, axes = plt.subplots(
            2, len(tasks), figsize=(4 * len(tasks), 6.5), squeeze=False
        )
        tiny = scores[scores["model_size"] == "tiny"]
        for col, task in enumerate(tasks):
            cell = tiny[tiny["task"] == task]
            for row, (x, fixed, label) in enumerate(
                (
                    ("pretrain_subjects", ("epochs", 15), "pretraining subjects (15 epochs)"),
                    ("epochs", ("pretrain_subjects", 1000), "epochs (1,000 subjects)"),
                )
            ):
                ax = axes[row][col]
                plotted = False
                for k, ((readout, labels), line) in enumerate(
                    cell.groupby(["readout", "labels"])
                ):
                    trained = line[(line["arm"] == "default") & (line[fixed[0]] == fixed[1])]
                    means = trained.groupby(x)["score"].mean()
                    plotted |= len(means) > 0
                    color = plt.get_cmap("tab10")(k)
                    ax.plot(
                        means.index, means.values, marker="o", color=color,
                        label=f"{readout}, {labels} labels",
                    )
                    untrained = line.loc[line["arm"] == "untrained", "score"].mean()
                    ax.axhline(untrained, color=color, linestyle=":", linewidth=1)
                if plotted:  # a log axis needs positive values to scale
                    ax.set_xscale("log")
                ax.set_xlabel(label)
                ax.set_title(f"{task} (dotted: untrained)", fontsize=9)
        axes[0][0].set_ylabel("probe score")
        axes[1][0].set_ylabel("probe score")
        axes[0][0].legend(fontsize=7)
    else:
        probes = scores[scores["method"] == "probe"]
        cells = list(dict.fromkeys(zip(probes["site"], probes["task"])))
        n_cols = 4
        n_rows = int(np.ceil(len(cells) / n_cols))
        fig, axes = plt.subplots(
            n_rows, n_cols, figsize=(4 * n_cols, 3 * n_rows), squeeze=False
        )
        for ax, (site, task) in zip(axes.flat, cells):
            readout = "lagged" if "dynamics" in TASK_KIND[task] else "connectivity"
            cell = probes[(probes["site"] == site) & (probes["task"] == task)]
            order = _label_order(cell["labels"])
            for model in ("untrained", "default", "FC + linear", "lag features + linear"):
                line = cell[cell["model"] == model]
                if model in ARMS:
                    line = line[(line["encoder"] == "target") & (line["readout"] == readout)]
                means = [line.loc[line["labels"] == c, "score"].mean() for c in order]
                ax.plot(order, means, marker="o", label=model)
            ax.set_title(f"{site}: {task}", fontsize=9)
        for ax in axes.flat[len(cells) :]:
            ax.axis("off")
        axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------- main
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized run")
    parser.add_argument("--part", choices=("main", "scaling"), default="main")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--no-hcp", action="store_true", help="skip the HCP world")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="model and split seeds (default: the mode's; the report says which)",
    )
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, BENCHMARK)
        return
    setup_logging()
    set_threads(args.threads)
    mode = "quick" if args.quick else "full"
    started, tic = now(), time.perf_counter()
    if args.part == "scaling":
        cfg = {**SCALING_SETTINGS[mode], "threads": args.threads}
        cfg["seeds"] = args.seeds or cfg["seeds"]
        rows, pretraining = run_scaling(cfg)
        extra = {}
    else:
        cfg = {**SETTINGS[mode], "threads": args.threads}
        cfg["seeds"] = args.seeds or cfg["seeds"]
        world = simulated_world(cfg)
        rows, pretraining = run_world(
            "simulated", world, cfg["arms"], cfg, SIMULATION["n_timepoints"]
        )
        extra = {}
        if not args.no_hcp:
            hcp = hcp_world(cfg)
            hcp_rows, hcp_pre = run_world(
                "hcp", hcp, cfg["hcp_arms"], cfg, cfg["hcp_window"]
            )
            rows += hcp_rows
            pretraining += hcp_pre
            extra["hcp"] = (
                f"pretraining: {len(hcp['pretrain'])} windows of {cfg['hcp_window']} "
                f"frames from subjects {hcp['subjects']['pretraining']} (stride "
                f"{cfg['hcp_pretrain_stride']}); evaluation: "
                f"{len(hcp['sites']['hcp'][0])} non-overlapping windows of subjects "
                f"{hcp['subjects']['evaluation']}, a random half reversed in time"
            )
    scores = pd.DataFrame(rows)
    results = run_record(
        BENCHMARK,
        quick=args.quick,
        started=started,
        part=args.part,
        settings=cfg,
        simulation=SIMULATION,
        pretraining_site=PRETRAINING_SITE,
        sites=SITES,
        arms={a: ARMS[a] for a in ARMS},
        finetune_variants=FINETUNE_VARIANTS,
        scores=records(scores),
        pretraining=pretraining,
        **extra,
    )
    results["wall_seconds"] = time.perf_counter() - tic
    stem = BENCHMARK + ("_scaling" if args.part == "scaling" else "")
    stem += "_quick" if args.quick else ""
    save_run(args.out, stem, results, render)
    scores.to_csv(args.out / f"{stem}_scores.csv", index=False)
    save_curves(scores, args.out / f"{stem}_curves.png", args.part)


if __name__ == "__main__":
    main()
