"""Tests for streaming data: lazy sources, epoch plans, loaders, streaming embed."""

import pickle
import tracemalloc

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa import FunctionalConnectivity, GradientPositioner, ROIRobustScaler
from sk_brainjepa.datasets import (
    EpochPlanner,
    FileSource,
    ROIScalerTransform,
    SubjectRobustScaling,
    WindowDataset,
    as_source,
    draw_epoch,
    group_fc,
    make_loader,
    shard_batches,
)
from sk_brainjepa.estimators._common import embed
from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig, read_out
from sk_brainjepa.preprocessing import fisher_z_mean
from sk_brainjepa.sources import cut_windows


def crop_random_windows(subjects, n_timepoints, rng):
    """The in-memory loop's draws before streaming: one start per subject."""
    out = []
    for x in subjects:
        start = int(rng.integers(0, x.shape[1] - n_timepoints + 1))
        out.append(x[:, start : start + n_timepoints])
    return np.stack(out).astype(np.float32, copy=False)


def _memmap(path, data):
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=data.dtype, shape=data.shape)
    mm[:] = data
    mm.flush()
    return mm


@pytest.fixture
def cohort(rng):
    return rng.standard_normal((6, 5, 48)).astype(np.float32)


# ------------------------------------------------------------------ sources
def test_memmap_is_wrapped_not_copied(tmp_path, cohort):
    mm = _memmap(tmp_path / "X.npy", cohort)
    source = as_source(mm)
    assert not source.in_memory
    assert source.data is mm
    assert (source.n_rois, len(source)) == (5, 6)
    assert_array_equal(source.lengths, [48] * 6)
    window = source.window(2, 7, 16)
    assert window.dtype == np.float32 and window.flags.c_contiguous
    assert not np.shares_memory(window, mm)
    assert_array_equal(window, cohort[2, :, 7:23])
    # The array check_timeseries returns for a memmap still views the file.
    assert not as_source(np.asarray(mm)).in_memory
    # A 3-D .npy path is memory-mapped as a whole cohort.
    from_path = as_source(tmp_path / "X.npy")
    assert not from_path.in_memory
    assert_array_equal(from_path[5], cohort[5])


def test_memmap_source_pickles_as_its_file(tmp_path, rng):
    data = rng.standard_normal((40, 8, 64))  # float64: windows become float32
    mm = _memmap(tmp_path / "X.npy", data)
    for X in (mm, mm[10:30, :, ::2], [mm[3], mm[7].T.T]):
        source = as_source(X)
        payload = pickle.dumps(source)
        assert len(payload) < data.nbytes / 40
        clone = pickle.loads(payload)
        for i in range(len(source)):
            assert_array_equal(clone[i], source[i])
    assert_array_equal(
        pickle.loads(pickle.dumps(as_source(mm)))[39], data[39].astype("f4")
    )


def test_plain_arrays_are_validated_and_kept(cohort):
    source = as_source(cohort)
    assert source.in_memory and source.data is cohort
    ragged = as_source([cohort[0], cohort[1, :, :30]])
    assert_array_equal(ragged.lengths, [48, 30])
    bad = cohort.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        as_source(bad)


def test_folder_of_npy_files_with_different_lengths(tmp_path, rng):
    subjects = [rng.standard_normal((4, n)) for n in (40, 55, 70)]
    np.save(tmp_path / "sub-01.npy", subjects[0].astype(np.float32))
    np.save(tmp_path / "sub-02.npy", np.asfortranarray(subjects[1]))
    np.save(tmp_path / "sub-03.npy", subjects[2])
    source = as_source(tmp_path)
    assert isinstance(source, FileSource) and not source.in_memory
    assert source.subject_ids == ["sub-01", "sub-02", "sub-03"]
    assert_array_equal(source.lengths, [40, 55, 70])
    for i, x in enumerate(subjects):
        assert_array_equal(source[i], x.astype(np.float32))
    assert_array_equal(source.window(2, 10, 32), subjects[2][:, 10:42].astype("f4"))
    # A list of files keeps its order; pickling keeps only paths.
    files = [tmp_path / "sub-03.npy", tmp_path / "sub-01.npy"]
    listed = pickle.loads(pickle.dumps(as_source(files)))
    assert_array_equal(listed.lengths, [70, 40])


def test_shapes_come_from_headers_without_reading_data(tmp_path):
    # A header announcing 10_000 frames over a file that holds only a few:
    # the source learns the shape; reading the data then fails.
    with open(tmp_path / "sub-01.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (3, 10_000)}
        )
        fh.write(np.zeros(30, dtype="<f4").tobytes())
    source = as_source(tmp_path)
    assert_array_equal(source.lengths, [10_000])
    with pytest.raises(ValueError):
        source[0]


def test_other_formats_and_layout(tmp_path, rng):
    x = rng.standard_normal((30, 4))  # frames x ROIs
    np.savez(tmp_path / "a.npz", bold=x)
    np.savetxt(tmp_path / "b.csv", x[:25], delimiter=",")
    source = as_source(tmp_path, layout="time_x_rois")
    assert_array_equal(source.lengths, [30, 25])
    assert_array_equal(source[0], x.T.astype(np.float32))
    assert_allclose(source.window(1, 5, 10), x[5:15].T, rtol=1e-6)


def test_errors_name_the_file_or_subject(tmp_path, rng, cohort):
    with pytest.raises(ValueError, match="3-D array"):
        as_source(_memmap(tmp_path / "two_d.npy", cohort[0]), name="X")
    folder = tmp_path / "subjects"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="No time-series files"):
        as_source(folder)
    np.save(folder / "sub-01.npy", cohort[0])
    np.save(folder / "sub-02.npy", cohort[1, :4])
    with pytest.raises(ValueError, match=r"sub-02\.npy has 4 ROIs but .*sub-01\.npy"):
        as_source(folder)
    np.save(folder / "sub-02.npy", cohort[:2])
    with pytest.raises(ValueError, match=r"sub-02\.npy holds an array of shape"):
        as_source(folder)
    bad = cohort[1].copy()
    bad[0, 40] = np.inf
    np.save(folder / "sub-02.npy", bad)
    source = as_source(folder)
    source.window(1, 0, 32)  # the bad frame is outside this window
    with pytest.raises(ValueError, match=r"subject 1 \(file .*sub-02\.npy\).*infinite"):
        source[1]
    with pytest.raises(
        ValueError, match=r"Subject 0 \(file .*sub-01\.npy\) has 48 time points"
    ):
        source.check_lengths(64)
    nan = cohort.copy()
    nan[4, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"X\[4\] contains 1 NaN"):
        as_source(_memmap(tmp_path / "nan.npy", nan))[4]
    np.save(folder / "sub-03.npy", np.array([[object()]]), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        as_source(folder)


# -------------------------------------------------------------------- plans
def test_plan_reproduces_the_in_memory_training_loop(rng):
    lengths = [40, 64, 33, 50, 32, 45, 60]
    X = [rng.standard_normal((3, n)).astype(np.float32) for n in lengths]
    planner = EpochPlanner([x.shape[1] for x in X], 32, batch_size=3)
    loader = make_loader(X, 32)
    plan_rng, loop_rng = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(2):  # two epochs: the generator carries over
        loader.batch_sampler.set_plan(planner.plan(plan_rng))
        order = loop_rng.permutation(len(X))
        expected = [
            crop_random_windows([X[i] for i in order[s : s + 3]], 32, loop_rng)
            for s in range(0, len(X), 3)
        ]
        batches = [b.numpy() for b in loader]
        assert len(batches) == len(expected) == planner.n_batches == 3
        for got, want in zip(batches, expected, strict=True):
            assert_array_equal(got, want)


def test_same_seed_same_plan():
    lengths = np.arange(40, 60)
    plans = [
        EpochPlanner(lengths, 16, batch_size=4).plan(np.random.default_rng(seed))
        for seed in (1, 1, 2)
    ]
    assert_array_equal(
        np.concatenate(plans[0].batches), np.concatenate(plans[1].batches)
    )
    assert not np.array_equal(plans[0].subjects, plans[2].subjects)
    ordered = EpochPlanner(lengths, 16, batch_size=4, shuffle=False)
    assert_array_equal(ordered.plan(np.random.default_rng(0)).subjects, np.arange(20))


def test_workers_give_the_same_batches_and_leave_global_rng_alone(tmp_path, rng):
    mm = _memmap(tmp_path / "X.npy", rng.standard_normal((10, 4, 40), dtype="f4"))
    plan = EpochPlanner(mm.shape[0] * [40], 16, batch_size=4).plan(
        np.random.default_rng(0)
    )
    runs = []
    for workers in (0, 2):
        state = torch.get_rng_state()
        loader = make_loader(mm, 16, plan=plan, num_workers=workers)
        runs.append([b.numpy() for b in loader])
        assert torch.equal(torch.get_rng_state(), state)
        assert not loader.pin_memory
    assert len(runs[0]) == 3
    for a, b in zip(*runs, strict=True):
        assert_array_equal(a, b)
    for (i, s), window in zip(plan.batches[1], runs[0][1], strict=True):
        assert_array_equal(window, mm[i, :, s : s + 16])


@pytest.mark.parametrize("n, batch_size, world_size", [(21, 8, 2), (22, 8, 4)])
def test_ranks_split_each_global_batch(n, batch_size, world_size):
    subjects, starts = draw_epoch(np.random.default_rng(3), [50] * n, 16)
    single = shard_batches(subjects, starts, batch_size=batch_size)
    ranks = [
        EpochPlanner([50] * n, 16, batch_size=batch_size, rank=r, world_size=world_size)
        .plan(np.random.default_rng(3))
        .batches
        for r in range(world_size)
    ]
    assert {len(b) for b in ranks} == {len(single)}
    for k, whole in enumerate(single):
        parts = [rank[k] for rank in ranks]
        assert len({len(p) for p in parts}) == 1  # same batch size on every rank
        joined = np.concatenate(parts)
        assert_array_equal(joined[: len(whole)], whole)
        # Padding repeats the batch's own first rows.
        assert_array_equal(joined[len(whole) :], whole[: len(joined) - len(whole)])
        if len(whole) == batch_size:
            assert len(parts[0]) == batch_size // world_size
    with pytest.raises(ValueError, match="rank must be < world_size"):
        EpochPlanner([50], 16, batch_size=4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="fewer than n_timepoints"):
        draw_epoch(np.random.default_rng(0), [50, 10], 16)


# --------------------------------------------------------------- transforms
@pytest.mark.parametrize("center_subjects", [False, True])
def test_scaler_transform_equals_roirobustscaler(rng, center_subjects):
    X = (rng.standard_normal((4, 5, 60)) * 3 + 7).astype(np.float32)
    scaler = ROIRobustScaler(center_subjects=center_subjects).fit(X)
    transform = pickle.loads(pickle.dumps(ROIScalerTransform(scaler)))
    dataset = WindowDataset(as_source(X), 20, transform)
    expected = scaler.transform(X)
    for i, start in [(0, 0), (3, 17), (2, 40)]:
        assert_array_equal(
            dataset[i, start].numpy(), expected[i, :, start : start + 20]
        )
    if not center_subjects:  # per-ROI affine: a whole batch at once
        assert_array_equal(transform(X[:, :, 5:25]), expected[:, :, 5:25])
    with pytest.raises(ValueError, match="ROIs the scaler was fitted on"):
        transform(X[0, :4])
    with pytest.raises(ValueError, match="fitted ROIRobustScaler"):
        ROIScalerTransform(ROIRobustScaler())


def test_subject_robust_scaling(rng):
    X = (rng.standard_normal((3, 4, 50)) * 5 - 2).astype(np.float32)
    per_subject = SubjectRobustScaling()
    for x in X:
        assert_array_equal(per_subject(x), ROIRobustScaler().fit_transform(x[None])[0])
    dataset = WindowDataset(as_source(X), 16, per_subject)
    assert_array_equal(dataset[1, 30].numpy(), per_subject(X[1])[:, 30:46])
    on_window = WindowDataset(as_source(X), 16, SubjectRobustScaling(over="window"))
    assert_array_equal(on_window[1, 30].numpy(), per_subject(X[1, :, 30:46]))
    X[2, 3] = 1.0
    with pytest.raises(ValueError, match=r"X\[2\].*ROI index 3"):
        dataset[2, 0]


# ------------------------------------------------------------------- embed
def _embed_in_memory(encoder, X, *, n_timepoints, window, readout, batch_size):
    """The former embed(): every window concatenated first, then batched."""
    windows, owner = [], []
    for i, x in enumerate(X):
        w = cut_windows(x, n_timepoints, window)
        windows.append(w)
        owner.extend([i] * len(w))
    windows = np.concatenate(windows).astype(np.float32, copy=False)
    owner = np.asarray(owner)
    n_rois, feats = windows.shape[1], []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            tokens = encoder(torch.from_numpy(windows[start : start + batch_size]))
            feats.append(read_out(tokens, n_rois, readout).numpy())
    feats = np.concatenate(feats)
    if len(owner) == len(X):
        return feats
    summed = np.zeros((len(X),) + feats.shape[1:], dtype=np.float64)
    np.add.at(summed, owner, feats)
    counts = np.bincount(owner, minlength=len(X))
    return (summed / counts.reshape((-1,) + (1,) * (feats.ndim - 1))).astype("f4")


@pytest.fixture(scope="module")
def encoder():
    config = EncoderConfig(n_rois=4, gradient_dim=3, embed_dim=16, depth=1, n_heads=2)
    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(4, 3, generator=gen)
    return BrainJEPAEncoder(config, grads, generator=gen).eval()


@pytest.mark.parametrize("window", ["center", "start", "average"])
@pytest.mark.parametrize("readout", ["mean", "roi", "connectivity", "tokens"])
def test_streaming_embed_equals_in_memory_embed(encoder, tmp_path, window, readout):
    rng = np.random.default_rng(1)
    ragged = [rng.standard_normal((4, n)) for n in (32, 70, 49, 96, 64)]
    stack = rng.standard_normal((5, 4, 80)).astype(np.float32)
    mapped = _memmap(tmp_path / "X.npy", stack)
    inputs = [
        (ragged, ragged),
        (as_source(mapped) if window == "start" else mapped, stack),
    ]
    for X, data in inputs:
        kwargs = dict(n_timepoints=32, window=window, readout=readout, batch_size=3)
        got = embed(encoder, X, device=torch.device("cpu"), **kwargs)
        assert got.dtype == np.float32
        assert_array_equal(got, _embed_in_memory(encoder, data, **kwargs))


def test_streaming_embed_memory_does_not_grow_with_subjects(tmp_path):
    config = EncoderConfig(n_rois=32, gradient_dim=3, embed_dim=16, depth=1, n_heads=2)
    wide = BrainJEPAEncoder(config, torch.zeros(32, 3)).eval()
    data = np.random.default_rng(2).standard_normal((100, 32, 64), dtype="f4")
    mapped = _memmap(tmp_path / "X.npy", data)
    kwargs = dict(n_timepoints=32, window="center", readout="mean", batch_size=8)
    peaks = []
    for run in (embed, _embed_in_memory):
        tracemalloc.start()
        try:
            run(wide, mapped, **kwargs, **({"device": "cpu"} if run is embed else {}))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    windows = 100 * 32 * 32 * 4  # 410 kB: what the former embed held at once
    assert peaks[1] > windows > 2 * peaks[0]


def test_group_fc_equals_the_stacked_average(rng):
    X = rng.standard_normal((5, 6, 40)).astype(np.float32)
    fc = FunctionalConnectivity().fit_transform(X)
    assert_array_equal(group_fc(X), fisher_z_mean(fc))
    assert_allclose(group_fc(X, average="mean"), fc.mean(axis=0), rtol=1e-6)
    assert_array_equal(group_fc(X[:1]), fc[0])
    positioner = GradientPositioner(n_components=3, sparsity=0.5)
    assert_array_equal(
        positioner.fit(group_fc(X)).gradients_, positioner.fit(fc).gradients_
    )


# ------------------------------------------------------- estimators on sources
def test_pretrainer_on_memmap_and_files_equals_in_memory(tmp_path, rng):
    from sk_brainjepa import BrainJEPAEmbedder, BrainJEPAPretrainer

    X = rng.standard_normal((8, 6, 40)).astype(np.float32)
    mm = _memmap(tmp_path / "X.npy", X)
    folder = tmp_path / "subjects"
    folder.mkdir()
    for i, x in enumerate(X):
        np.save(folder / f"s{i}.npy", x)
    params = dict(n_timepoints=32, max_epochs=2, batch_size=4, random_state=0)
    in_memory = BrainJEPAPretrainer(**params).fit(X)
    for data in (mm, folder, tmp_path / "X.npy"):
        lazy = BrainJEPAPretrainer(**params, num_workers=0).fit(data)
        assert_array_equal(lazy.gradients_, in_memory.gradients_)
        assert_array_equal(lazy.transform(data), in_memory.transform(X))
    # Workers read the windows; the plan (and so the model) is the same.
    workers = BrainJEPAPretrainer(**params, num_workers=2).fit(mm)
    assert_array_equal(workers.transform(mm), in_memory.transform(X))
    embedder = BrainJEPAEmbedder(pretrainer=in_memory).fit(folder)
    assert_array_equal(embedder.transform(folder), in_memory.transform(X))


def test_scaled_source_feeds_the_estimators(tmp_path, rng):
    from sk_brainjepa import BrainJEPAPretrainer, ROIRobustScaler
    from sk_brainjepa.datasets import ScaledSource, SubjectRobustScaling

    raw = (rng.standard_normal((6, 5, 40)) * 4 + 10).astype(np.float32)
    scaled = np.stack([ROIRobustScaler().fit_transform(x[None])[0] for x in raw])
    params = dict(n_timepoints=32, max_epochs=1, batch_size=3, random_state=0)
    eager = BrainJEPAPretrainer(**params).fit(scaled)
    lazy_source = ScaledSource(raw, SubjectRobustScaling())
    lazy = BrainJEPAPretrainer(**params).fit(lazy_source)
    np.testing.assert_allclose(
        lazy.transform(lazy_source), eager.transform(scaled), atol=1e-5
    )
    with pytest.raises(ValueError, match="outside"):
        lazy_source.window(0, 30, 20)
    with pytest.raises(TypeError, match="callable"):
        ScaledSource(raw, "subject")
