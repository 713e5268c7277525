"""Parameters renamed in 0.2 (#22): the old names work for one release, with a warning.

``BrainJEPAEmbedder``: ``encoder`` -> ``source_encoder``, ``window`` ->
``window_position``, ``n_timepoints`` -> ``window_length`` (and the fitted
``n_timepoints_`` -> ``window_length_``); the fine-tuners: ``encoder`` ->
``source_encoder``, ``n_timepoints`` -> ``window_length``; the command line:
``--encoder`` -> ``--source-encoder``, ``--window`` -> ``--window-position``.
An old name gives the same numbers as the new one.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPARegressor,
    roi_attention,
)
from sk_brainjepa._utils._deprecation import DEPRECATED, translate_renamed
from sk_brainjepa.cli import main
from sk_brainjepa.estimators import resolve_model
from sk_brainjepa.estimators._embedder import EMBEDDER_RENAMES
from sk_brainjepa.estimators._finetune import FINETUNE_RENAMES
from sk_brainjepa.model_selection import linear_probe

# (old name, new name, a value other than the default)
EMBEDDER_CASES = [
    ("encoder", "source_encoder", "online"),
    ("window", "window_position", "average"),
    ("n_timepoints", "window_length", 16),
]
# The connectivity head needs 2 time patches: 48 frames, not 16.
FINETUNE_CASES = [
    ("encoder", "source_encoder", "online"),
    ("n_timepoints", "window_length", 48),
]
FAST = dict(max_epochs=1, batch_size=8, random_state=0)


@pytest.fixture(scope="module")
def long_data(data):
    """Series two windows long, so that every window position differs."""
    X = data[0]
    return np.concatenate([X, X[:, :, ::-1]], axis=2)


def _embed(X, pretrained, **params):
    return BrainJEPAEmbedder(pretrainer=pretrained, **params).fit(X).transform(X)


# ------------------------------------------------------------------ embedder
@pytest.mark.parametrize("old, new, value", EMBEDDER_CASES)
def test_embedder_old_name_warns_and_gives_the_same_features(
    long_data, pretrained, old, new, value
):
    expected = _embed(long_data, pretrained, **{new: value})
    assert not np.array_equal(expected, _embed(long_data, pretrained))
    with pytest.warns(FutureWarning, match=rf"'{old}' was renamed '{new}'"):
        got = _embed(long_data, pretrained, **{old: value})
    assert_array_equal(got, expected)


@pytest.mark.parametrize("old, new, value", EMBEDDER_CASES)
def test_embedder_new_name_does_not_warn(long_data, pretrained, old, new, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        embedder = BrainJEPAEmbedder(pretrainer=pretrained, **{new: value})
        embedder.fit(long_data).transform(long_data)
        assert embedder.window_length_ == (32 if new != "window_length" else value)


# (old name, its value, new name, another value than the old one's and the
# default: a new name at its default counts as not given)
CLASHES = [
    ("encoder", "target", "source_encoder", "online"),
    ("window", "average", "window_position", "start"),
    ("n_timepoints", 16, "window_length", 32),
]


@pytest.mark.parametrize("old, value, new, other", CLASHES)
def test_embedder_both_names_with_different_values_fail(
    data, pretrained, old, value, new, other
):
    embedder = BrainJEPAEmbedder(pretrainer=pretrained, **{old: value, new: other})
    with pytest.raises(ValueError, match=rf"{old}=.*and {new}=.*were both given"):
        embedder.fit(data[0])
    # The same value under both names is what the user meant: it warns only.
    same = BrainJEPAEmbedder(pretrainer=pretrained, **{old: value, new: value})
    with pytest.warns(FutureWarning):
        same.fit(data[0])


@pytest.mark.parametrize("old, new, value", EMBEDDER_CASES)
def test_embedder_clone_and_get_params_keep_both_names(pretrained, old, new, value):
    params = BrainJEPAEmbedder().get_params()
    assert params[old] == DEPRECATED and new in params
    embedder = BrainJEPAEmbedder(pretrainer=pretrained, **{old: value})
    twin = clone(embedder)
    assert twin.get_params()[old] == value
    assert twin.get_params()[new] == BrainJEPAEmbedder().get_params()[new]
    assert clone(BrainJEPAEmbedder(**{new: value})).get_params()[new] == value


def test_embedder_old_values_are_validated(data, pretrained):
    with pytest.raises(ValueError, match="'window' parameter"):
        BrainJEPAEmbedder(pretrainer=pretrained, window="middle").fit(data[0])
    with pytest.raises(ValueError, match="'n_timepoints' parameter"):
        BrainJEPAEmbedder(pretrainer=pretrained, n_timepoints=0).fit(data[0])


def test_embedder_n_timepoints_attribute_warns(data, pretrained):
    embedder = BrainJEPAEmbedder(pretrainer=pretrained).fit(data[0])
    with pytest.warns(FutureWarning, match="n_timepoints_ was renamed window_length_"):
        assert embedder.n_timepoints_ == embedder.window_length_ == 32


def test_embedder_saved_with_old_params_loads(data, pretrained):
    X = data[0]
    expected = _embed(X, pretrained, source_encoder="online", window_length=16)
    # Parameters recorded by name before 0.2 (the old defaults included).
    recorded = {**BrainJEPAEmbedder().get_params(), "pretrainer": pretrained}
    for old in EMBEDDER_RENAMES:
        del recorded[EMBEDDER_RENAMES[old]]
    recorded.update(encoder="online", window="center", n_timepoints=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        rebuilt = BrainJEPAEmbedder(**translate_renamed(recorded, EMBEDDER_RENAMES))
        assert_array_equal(rebuilt.fit(X).transform(X), expected)
    # A fitted embedder pickled before 0.2: old names set, n_timepoints_ fitted.
    fitted = BrainJEPAEmbedder(pretrainer=pretrained, window_length=16).fit(X)
    fitted.set_params(source_encoder="online").fit(X)
    state = dict(vars(fitted))
    for old, new in EMBEDDER_RENAMES.items():
        state[old] = state.pop(new)
    state["n_timepoints_"] = state.pop("window_length_")
    old_style = object.__new__(BrainJEPAEmbedder)
    old_style.__dict__.update(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = pickle.loads(pickle.dumps(old_style))
        assert_array_equal(loaded.transform(X), expected)
    assert loaded.window_length_ == 16 and loaded.source_encoder == "online"
    assert all(loaded.get_params()[old] == DEPRECATED for old in EMBEDDER_RENAMES)


def test_functions_read_the_value_an_old_name_set(long_data, pretrained):
    X = long_data
    y = np.tile([0, 1], len(X) // 2)
    kwargs = dict(task="classification", n_repeats=2, random_state=0)
    new = BrainJEPAEmbedder(pretrainer=pretrained, window_position="start").fit(X)
    with pytest.warns(FutureWarning):
        old = BrainJEPAEmbedder(pretrainer=pretrained, window="start").fit(X)
    with pytest.warns(FutureWarning):
        got = roi_attention(old, X, per_subject=True)
    assert_array_equal(got, roi_attention(new, X, per_subject=True))
    with pytest.warns(FutureWarning):
        got = linear_probe(old, X, y, readout="roi", **kwargs)
    pd.testing.assert_frame_equal(got, linear_probe(new, X, y, readout="roi", **kwargs))
    # An old name the embedder holds is compared with the resolved setting:
    # asking for its own value changes nothing, so the embedder is returned.
    with pytest.warns(FutureWarning):
        assert resolve_model(old, window_position="start") is old
    with pytest.warns(FutureWarning):
        online = resolve_model(old, source_encoder="online")
    assert online.get_params()["window"] == DEPRECATED
    assert online.window_position == "start"


def test_function_keywords_renamed_warn_and_give_the_same_result(long_data, pretrained):
    X = long_data
    y = np.tile([0, 1], len(X) // 2)
    kwargs = dict(task="classification", n_repeats=2, random_state=0)
    with pytest.warns(FutureWarning, match="'encoder' was renamed 'source_encoder'"):
        old = linear_probe(pretrained, X, y, encoder="online", **kwargs)
    new = linear_probe(pretrained, X, y, source_encoder="online", **kwargs)
    pd.testing.assert_frame_equal(old, new)
    assert new.attrs["encoder"] == "online"
    with pytest.raises(TypeError, match="encoder= and source_encoder="):
        linear_probe(pretrained, X, y, encoder="online", source_encoder="target")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = roi_attention(pretrained, X, window="start", n_timepoints=32)
    assert sorted(str(w.message).split("'")[1] for w in caught) == [
        "n_timepoints",
        "window",
    ]
    new = roi_attention(pretrained, X, window_position="start", window_length=32)
    assert_array_equal(old, new)


def test_resolve_model_old_arguments_warn(long_data, pretrained):
    X = long_data
    expected = resolve_model(pretrained, window_position="average").transform(X)
    with pytest.warns(FutureWarning, match="'window' was renamed 'window_position'"):
        got = resolve_model(pretrained, window="average").transform(X)
    assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="window='start' and window_position="):
        resolve_model(pretrained, window="start", window_position="average")


# --------------------------------------------------------------- fine-tuners
@pytest.mark.parametrize("Net", [BrainJEPAClassifier, BrainJEPARegressor])
@pytest.mark.parametrize("old, new, value", FINETUNE_CASES)
def test_finetuner_old_name_warns_and_gives_the_same_predictions(
    data, pretrained, Net, old, new, value
):
    X, pheno = data
    y = pheno["sex"] if Net is BrainJEPAClassifier else pheno["age"]
    start = dict(pretrainer=FrozenEstimator(pretrained), valid_fraction=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        expected = Net(**start, **{new: value}, **FAST).fit(X, y)
    with pytest.warns(FutureWarning, match=rf"'{old}' was renamed '{new}'"):
        got = Net(**start, **{old: value}, **FAST).fit(X, y)
    assert got.window_length_ == expected.window_length_
    predict = "predict_proba" if Net is BrainJEPAClassifier else "predict"
    assert_array_equal(getattr(got, predict)(X), getattr(expected, predict)(X))
    with pytest.warns(FutureWarning, match="n_timepoints_ was renamed window_length_"):
        assert got.n_timepoints_ == got.window_length_


@pytest.mark.parametrize("old, value, new, other", [CLASHES[0], CLASHES[2]])
def test_finetuner_both_names_with_different_values_fail(
    data, pretrained, old, value, new, other
):
    X, pheno = data
    net = BrainJEPAClassifier(pretrainer=pretrained, **{old: value, new: other}, **FAST)
    with pytest.raises(
        ValueError, match=rf"BrainJEPAClassifier: {old}=.*and {new}=.*were both given"
    ):
        net.fit(X, pheno["sex"])


@pytest.mark.parametrize("old, new, value", FINETUNE_CASES)
def test_finetuner_clone_and_get_params_keep_both_names(pretrained, old, new, value):
    params = BrainJEPARegressor().get_params()
    assert params[old] == DEPRECATED and new in params
    net = BrainJEPAClassifier(pretrainer=pretrained, **{old: value}, **FAST)
    twin = clone(net)
    assert twin.get_params()[old] == value and twin.pretrainer is pretrained
    assert twin.get_params()[new] == BrainJEPAClassifier().get_params()[new]


def test_finetuner_pickled_with_old_names_loads(data, pretrained):
    X, pheno = data
    net = BrainJEPAClassifier(pretrainer=pretrained, window_length=48, **FAST)
    net.fit(X, pheno["sex"])
    expected = net.predict_proba(X)
    # What a net pickled before 0.2 holds: the old names, n_timepoints_ fitted.
    state = net.__getstate__()
    for old, new in FINETUNE_RENAMES.items():
        state[old] = state.pop(new)
    state["n_timepoints_"] = state.pop("window_length_")
    old_style = object.__new__(BrainJEPAClassifier)
    old_style.__setstate__(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert_array_equal(old_style.predict_proba(X), expected)
        assert old_style.window_length_ == 48 and old_style.window_length == 48
    assert old_style.get_params()["n_timepoints"] == DEPRECATED


# ---------------------------------------------------------------- command line
@pytest.mark.parametrize(
    "old, new, value",
    [
        ("--encoder", "--source-encoder", "online"),
        ("--window", "--window-position", "start"),
    ],
)
def test_cli_old_options_warn_and_give_the_same_features(
    data, pretrained, tmp_path, old, new, value
):
    X = np.concatenate([data[0], data[0][:, :, ::-1]], axis=2)
    model = pretrained.save(tmp_path / "model.pt")
    np.save(tmp_path / "X.npy", X)
    tables = {}
    for flag in (old, new):
        out = tmp_path / f"{flag.strip('-')}.csv"
        argv = ["-q", "embed", str(model), str(tmp_path / "X.npy"), "--out", str(out),
                "--scaling", "none", flag, value]  # fmt: skip
        if flag == old:
            with pytest.warns(FutureWarning, match=f"{old} was renamed {new}"):
                assert main(argv) == 0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error", FutureWarning)
                assert main(argv) == 0
        tables[flag] = pd.read_csv(out, index_col=0)
    pd.testing.assert_frame_equal(tables[old], tables[new])


def test_cli_pretrain_old_options_are_aliases_of_the_new_ones():
    # Made from BrainJEPAPretrainer's signature and docstring: the old names
    # store into the new options, so the estimator gets only the new ones.
    from sk_brainjepa.cli import build_parser
    from sk_brainjepa.cli._options import collect

    argv = ["pretrain", "x.npy", "--out", "m.pt"]
    old = ["--n-timepoints", "48", "--embed-window", "start"]
    with pytest.warns(FutureWarning) as record:
        args = build_parser().parse_args([*argv, *old])
    assert [str(w.message).split(" was")[0] for w in record] == old[::2]
    new = ["--window-length", "48", "--window-position", "start"]
    expected = build_parser().parse_args([*argv, *new])
    assert (args.window_length, args.window_position) == (48, "start")
    assert not hasattr(args, "n_timepoints") and not hasattr(args, "embed_window")
    given = collect(args, args.estimator_params)
    assert given == collect(expected, expected.estimator_params)
    assert given["window_length"] == 48 and "n_timepoints" not in given
    help_text = build_parser()._subparsers._group_actions[0].choices["pretrain"]
    help_text = help_text.format_help()
    assert "--window-length" in help_text and "--n-timepoints" not in help_text


def test_cli_old_options_are_hidden_from_help(capsys):
    with pytest.raises(SystemExit):
        main(["embed", "--help"])
    text = capsys.readouterr().out
    assert "--source-encoder" in text and "--window-position" in text
    assert "--encoder" not in text and "--window " not in text
