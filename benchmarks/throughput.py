"""Benchmark: pretraining and embedding throughput, model FLOP/s and peak memory.

For each size preset at 450 ROIs x 160 frames (4,500 tokens with patch 16),
and for each attention backend, it measures

- pretraining samples/s: ``JEPATrainer.train_batch`` (masks, target encoder on
  all tokens, encoder on the context, predictor, backward, AdamW, EMA), built
  as ``BrainJEPAPretrainer.fit`` builds it;
- embedding samples/s: the encoder on all tokens, in eval mode without
  gradients;
- achieved model FLOP/s (matmul FLOPs counted by ``pretraining_step_flops`` /
  ``encoder_flops`` of ``benchmarks/_flops.py`` from the masks actually drawn)
  and its ratio to the dense matmul FLOP/s measured in the same process just
  before, on the same device and thread count;
- peak memory: on the CPU, the resident-set high-water mark of a fresh
  process per configuration and mode, above its size after the imports; on CUDA,
  ``torch.cuda.max_memory_allocated``.

The library's default attention (``"auto"``: flash-attn on CUDA when
installed, else PyTorch SDPA) is compared with the plain reference
``"math"``, which materialises the full token x token matrix like the official
code's ``attn_mode='normal'``, on the same weights, data and masks. Both
outputs are compared (encoder features and the first step's loss).

Run from the repository root::

    python benchmarks/throughput.py --quick          # seconds, a smoke test
    python benchmarks/throughput.py --threads 2      # tiny, small, base
    python benchmarks/throughput.py --compile        # adds torch.compile rows

Writes ``<out>/throughput[_quick][_compile][_cuda].json`` (settings and every
process's measurements) and the Markdown report rendered from it (``....md``);
``python benchmarks/throughput.py --render <out>/throughput.json``
re-renders the Markdown of a stored run. On a CUDA machine the model runs
under bf16 autocast (as ``BrainJEPAPretrainer(precision="auto")``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESETS = ("tiny", "small", "base")
BACKENDS = ("auto", "math")
FULL = {"n_rois": 450, "n_timepoints": 160}
QUICK = {"n_rois": 32, "n_timepoints": 64, "presets": ("tiny",)}
# Per-device defaults: a CPU step of `base` at 4,500 tokens takes tens of
# seconds, a GPU step a fraction of one.
DEFAULTS = {
    "cpu": {"batch_size": 1, "steps": 2, "warmup": 1},
    "cuda": {"batch_size": 16, "steps": 10, "warmup": 3},
}
PATCH = 16
GRADIENT_DIM = 30
WORKER_TIMEOUT_S = 1800
COMPILE_EXTRA_WARMUP = 2
# Matmul throughputs of the processes of one run further apart than this
# factor mean the machine's load changed during the run (flagged in the report).
LOAD_TOLERANCE = 1.2

logger = logging.getLogger("benchmarks.throughput")


# ===================================================================== worker
# This section runs in a fresh process per configuration and mode, so
# that its peak memory is its own.


def _max_rss_bytes() -> int:
    """The process's resident-set high-water mark (``getrusage``), in bytes."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux: KiB


def _start_memory_watch() -> int:
    """Reset the resident-set high-water mark; the resident size now, in bytes.

    On Linux, writing 5 to ``/proc/self/clear_refs`` resets the mark that
    ``getrusage`` reports, so that transient allocations of the imports do not
    hide a smaller peak of the measured work. Elsewhere the mark cannot be
    reset and the high-water mark so far is the baseline.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _max_rss_bytes()


class _RecordingMasker:
    """Wraps a masker and records the context and target sizes it draws."""

    def __init__(self, masker):
        self.masker = masker
        self.sizes = []

    def __call__(self, batch_size, generator):
        masks = self.masker(batch_size, generator)
        self.sizes.append((masks.observation.shape[1], masks.target.shape[1]))
        return masks


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_second(device, dtype, size: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` FLOP/s of a dense ``size`` x ``size`` matmul."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    best = math.inf
    for i in range(repeats + 1):
        _synchronize(device)
        tic = time.perf_counter()
        torch.matmul(a, b)
        _synchronize(device)
        if i:  # the first call warms up the kernels and the thread pool
            best = min(best, time.perf_counter() - tic)
    return 2 * size**3 / best


def _build(job, device):
    """Encoder, predictor and data of a job, identical in every process."""
    import torch

    from sk_brainjepa.nn import BrainJEPAEncoder, BrainJEPAPredictor, model_config

    gen = torch.Generator().manual_seed(job["seed"])
    n_rois = job["n_rois"]
    gradients = torch.randn(n_rois, GRADIENT_DIM, generator=gen)
    x = torch.randn(job["batch_size"], n_rois, job["n_timepoints"], generator=gen)
    enc_cfg, pred_cfg = model_config(
        job["preset"],
        n_rois=n_rois,
        patch_size=PATCH,
        gradient_dim=GRADIENT_DIM,
        attention_backend=job["backend"],
    )
    encoder = BrainJEPAEncoder(enc_cfg, gradients, generator=gen).to(device)
    predictor = BrainJEPAPredictor(pred_cfg, gradients, generator=gen).to(device)
    return encoder, predictor, x.to(device)


def _compile(modules, job) -> None:
    # In place (nn.Module.compile), so that parameter names, the EMA update and
    # the trainer see the usual modules. Default dynamic=None: the first new
    # context / target size recompiles with dynamic sizes (measured here,
    # torch 2.13 CPU: dynamic=True from the start fails in inductor with
    # "cannot determine truth value of Relational", dynamic=False recompiles
    # every step).
    if job["compile"]:
        for module in modules:
            module.compile()


def _train_job(job, device) -> dict:
    import copy

    import torch
    from _flops import pretraining_step_flops

    from sk_brainjepa.masking import make_masker
    from sk_brainjepa.training import Objective, build_trainer

    encoder, predictor, x = _build(job, device)
    target_encoder = copy.deepcopy(encoder)
    target_encoder.requires_grad_(False)
    _compile((encoder, predictor, target_encoder), job)
    n_time_patches = job["n_timepoints"] // PATCH
    masker = _RecordingMasker(
        make_masker("spatiotemporal", job["n_rois"], n_time_patches)
    )
    extra = job["extra_warmup"]
    total = extra + job["warmup"] + job["steps"]
    # Built by BrainJEPAPretrainer.fit's builder with its defaults (lr 1e-3,
    # start 5 %, official ramps), for a run of `total` epochs of one batch each
    # (one optimiser step an epoch) with one warm-up step.
    trainer = build_trainer(
        encoder,
        predictor,
        target_encoder,
        masker,
        n_subjects=job["batch_size"],
        batch_size=job["batch_size"],
        max_epochs=total,
        warmup_epochs=1,
        mask_generator=torch.Generator().manual_seed(job["seed"] + 1),
        objective=Objective(loss="l2"),
        autocast_dtype=torch.bfloat16 if device.type == "cuda" else None,
    )
    seconds, losses = [], []
    for step in range(total):
        if extra and step == extra:
            # Compiled runs: the steps after the compilation draw the masks
            # that the eager runs draw, so that both time the same work.
            trainer.mask_generator.manual_seed(job["seed"] + 1)
        _synchronize(device)
        tic = time.perf_counter()
        loss = trainer.train_batch(x)["loss"]
        _synchronize(device)
        seconds.append(time.perf_counter() - tic)
        losses.append(loss)
    enc_cfg, pred_cfg = encoder.config, predictor.config
    flops = [
        pretraining_step_flops(
            enc_cfg, pred_cfg, n_time_patches, k_c, k_t, job["batch_size"]
        )
        for k_c, k_t in masker.sizes
    ]
    return {
        "seconds": seconds,
        "flops": flops,
        "first_loss": losses[0],
        "tokens": [list(s) for s in masker.sizes],
    }


def _embed_job(job, device) -> dict:
    import numpy as np
    import torch
    from _flops import encoder_flops

    encoder, _, x = _build(job, device)
    encoder.eval()
    _compile((encoder,), job)
    autocast = torch.autocast(
        "cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"
    )
    seconds, first = [], None
    for _ in range(job["extra_warmup"] + job["warmup"] + job["steps"]):
        _synchronize(device)
        tic = time.perf_counter()
        with torch.no_grad(), autocast:
            features = encoder(x)
        _synchronize(device)
        seconds.append(time.perf_counter() - tic)
        if first is None:
            first = features.float().cpu().numpy()
    if job.get("save_to"):
        np.save(job["save_to"], first)
    n_time_patches = job["n_timepoints"] // PATCH
    per_call = encoder_flops(encoder.config, n_time_patches) * job["batch_size"]
    return {"seconds": seconds, "flops": [per_call] * len(seconds)}


def _worker(job: dict) -> dict:
    """Run ``job["modes"]`` in order; ``{mode: result}``."""
    import torch

    from sk_brainjepa.nn import (
        MODEL_PRESETS,
        flash_attn_available,
        select_attention_backend,
    )

    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    spec = MODEL_PRESETS[job["preset"]]
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    resolved = select_attention_backend(
        job["backend"],
        device.type,
        dtype,
        flash_attn_available(),
        spec["embed_dim"] // spec["n_heads"],
    )
    results = {}
    for mode in job["modes"]:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        # The denominator of the utilisation, measured in this process just
        # before its steps: other processes may load the machine meanwhile.
        matmul = matmul_flops_per_second(device, dtype, job["matmul_size"])
        baseline = _start_memory_watch()
        try:
            result = (_train_job if mode == "train" else _embed_job)(job, device)
        except Exception as exc:  # reported in the table instead of a crash
            first_line = (str(exc).splitlines() or [""])[0][:300]
            results[mode] = {"error": f"{type(exc).__name__}: {first_line}"}
            continue
        if device.type == "cuda":
            result["peak_bytes"] = torch.cuda.max_memory_allocated(device)
        else:
            result["peak_bytes"] = _max_rss_bytes() - baseline
        result["resolved_backend"] = resolved
        result["matmul"] = matmul
        results[mode] = result
    return results


def _worker_main(spec: str) -> None:
    results = _worker(json.loads(spec))
    print("RESULT " + json.dumps(results), flush=True)


# ============================================================ main process
def run_worker(job: dict) -> dict:
    """Run one configuration in a fresh Python process; ``{mode: result}``."""
    env = dict(os.environ)
    # Thread pools are sized when the libraries load: set them before.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(job["threads"])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    tic = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=WORKER_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {
            m: {"error": f"timed out after {WORKER_TIMEOUT_S} s"} for m in job["modes"]
        }
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        error = f"worker exited with code {proc.returncode}: " + " | ".join(tail)
        return {mode: {"error": error} for mode in job["modes"]}
    results = json.loads(lines[-1][len("RESULT ") :])
    logger.debug("worker took %.1f s", time.perf_counter() - tic)
    return results


def block_part_seconds(dim, heads, n_tokens, batch, device, dtype, backward):
    """Best-of-2 seconds of the parts of one transformer block.

    The fused ``qkv`` and ``proj`` projections, the attention core through
    SDPA and through the explicit matrix (``math_attention``), and the MLP
    (ratio 4), each on ``(batch, n_tokens, dim)``; forward only, or forward and
    backward of a sum.
    """
    import torch
    import torch.nn.functional as F

    from sk_brainjepa.nn import math_attention

    gen = torch.Generator().manual_seed(0)

    def rand(*shape, scale=1.0):
        t = (scale * torch.randn(*shape, generator=gen)).to(device=device, dtype=dtype)
        return t.requires_grad_(backward)

    x = rand(batch, n_tokens, dim)
    w_qkv, w_proj = rand(3 * dim, dim, scale=0.02), rand(dim, dim, scale=0.02)
    w_fc1, w_fc2 = rand(4 * dim, dim, scale=0.02), rand(dim, 4 * dim, scale=0.02)
    q, k, v = (rand(batch, heads, n_tokens, dim // heads) for _ in range(3))
    parts = {
        "qkv + proj": lambda: F.linear(F.linear(x, w_qkv)[..., :dim], w_proj),
        "attention (sdpa)": lambda: F.scaled_dot_product_attention(q, k, v),
        "attention (math)": lambda: math_attention(q, k, v),
        "MLP": lambda: F.linear(F.gelu(F.linear(x, w_fc1)), w_fc2),
    }
    out = {}
    for name, fn in parts.items():
        best = math.inf
        for i in range(3):  # the first call warms up
            _synchronize(device)
            tic = time.perf_counter()
            with torch.set_grad_enabled(backward):
                y = fn()
                if backward:
                    y.sum().backward()
            _synchronize(device)
            if i:
                best = min(best, time.perf_counter() - tic)
            del y
        out[name] = best
    return out


def time_block_parts(preset, results, n_rois, n_timepoints, batch, device, dtype):
    """Block-part timings at the token counts of ``preset``'s embedding and step.

    Rows: an encoder block on all tokens, forward (the embedding and the target
    encoder); an encoder block on the mean context size, forward + backward;
    a predictor block on the mean context + target size, forward + backward.
    """
    from sk_brainjepa.nn import MODEL_PRESETS

    spec = MODEL_PRESETS[preset]
    n_tokens = n_rois * (n_timepoints // PATCH)
    sizes = results[(preset, "math", False, "train")].get("tokens")
    if not sizes:
        return []
    k_c = round(sum(c for c, _ in sizes) / len(sizes))
    k_t = round(sum(t for _, t in sizes) / len(sizes))
    rows = []
    for label, dim, heads, tokens, backward in (
        ("encoder, all tokens", spec["embed_dim"], spec["n_heads"], n_tokens, False),
        ("encoder, context", spec["embed_dim"], spec["n_heads"], k_c, True),
        (
            "predictor, context + targets",
            spec["predictor_embed_dim"],
            spec["predictor_n_heads"],
            k_c + k_t,
            True,
        ),
    ):
        parts = block_part_seconds(dim, heads, tokens, batch, device, dtype, backward)
        rows.append((preset, label, tokens, backward, parts))
        logger.info(
            "%s block (%s, %d tokens, %s): %s",
            preset,
            label,
            tokens,
            "fwd+bwd" if backward else "fwd",
            ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in parts.items()),
        )
    return rows


def _matmul_range(results) -> str:
    values = [r["matmul"] / 1e12 for r in results.values() if "matmul" in r]
    if not values:
        return "n/a"
    return f"{min(values):.3f} to {max(values):.3f}"


def _load_average() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _fmt_mib(n_bytes) -> str:
    return f"{n_bytes / 2**20:,.0f}"


def _untimed(result) -> int:
    return result["extra_warmup"] + result["warmup"]


def _rate(result, key="samples"):
    skip = _untimed(result)
    seconds = sum(result["seconds"][skip:])
    if key == "samples":
        return (len(result["seconds"]) - skip) * result["batch_size"] / seconds
    return sum(result["flops"][skip:]) / seconds


def _log_result(result) -> None:
    name = f"{result['preset']} {result['backend']}"
    name += " compiled" if result["compile"] else ""
    if "error" in result:
        logger.warning("%s %s: %s", name, result["mode"], result["error"])
        return
    logger.info(
        "%s %s: %.3g samples/s, %.3g TFLOP/s (%.0f %% of matmul), peak %s MiB, "
        "step seconds %s",
        name,
        result["mode"],
        _rate(result),
        _rate(result, "flops") / 1e12,
        100 * _rate(result, "flops") / result["matmul"],
        _fmt_mib(result["peak_bytes"]),
        ", ".join(f"{x:.2f}" for x in result["seconds"]),
    )


def _label(backend, compiled, result) -> str:
    name = result.get("resolved_backend", backend)
    if backend == "math":
        return "math (reference)"
    return f"{name} ({backend})" + (" + torch.compile" if compiled else "")


def _speed_cells(result) -> list:
    if "error" in result:
        return ["failed: " + result["error"], "", "", ""]
    flops = _rate(result, "flops")
    return [
        f"{_rate(result):.3g}",
        f"{flops / 1e12:.3g}",
        f"{100 * flops / result['matmul']:.0f} %",
        _fmt_mib(result["peak_bytes"]),
    ]


def _ratio(result, reference, what):
    if "error" in result or "error" in reference:
        return None
    if what == "speed":
        return _rate(result) / _rate(reference)
    return result["peak_bytes"] / reference["peak_bytes"]


def _verdict(ok) -> str:
    return "**reached**" if ok else "**not reached**"


def render(results: dict) -> str:
    """The Markdown report of a run record of ``main``."""
    from _common import markdown_table as table
    from _common import report_header

    cfg = results["settings"]
    # The measurements keyed as the measuring code keys them.
    runs = {
        (r["preset"], r["backend"], r["compile"], r["mode"]): r for r in results["runs"]
    }
    breakdown = [
        (b["preset"], b["block"], b["tokens"], b["backward"], b["seconds"])
        for b in results["breakdown"]
    ]
    presets = cfg["presets"]
    variants = [tuple(v) for v in cfg["variants"]]
    n_rois, n_timepoints, n_tokens = cfg["n_rois"], cfg["n_timepoints"], cfg["n_tokens"]
    batch_size, steps, warmup = cfg["batch_size"], cfg["steps"], cfg["warmup"]
    mm_size, device = cfg["mm_size"], cfg["device"]
    on_gpu = cfg["device_type"] == "cuda"
    dtype = "bf16 autocast" if on_gpu else "float32"
    mm_dtype = "bfloat16" if on_gpu else "float32"
    parts = [
        *report_header(
            "# Throughput: Brain-JEPA pretraining and embedding",
            results,
            extra=[
                f"- **Device**: {device} ({dtype}), {cfg['threads']} torch thread(s)",
                "- **Load average at the end (1/5/15 min)**: "
                f"{results['load_average_end']}",
            ],
        ),
        f"- Input: batch {batch_size} x {n_rois} ROIs x {n_timepoints} frames, patch "
        f"{PATCH}: {n_tokens} tokens per sample; standard-normal series and "
        f"random gradients ({GRADIENT_DIM} components), seed {cfg['seed']}. "
        f"Presets: {', '.join(presets)} (`sk_brainjepa.nn.MODEL_PRESETS`).",
        (
            "- Quick mode: one fresh process per backend runs the embedding, then "
            "the training (the training may reuse memory the embedding freed). "
            if results["quick"]
            else "- Each configuration and mode runs in a fresh process. "
        )
        + f"{warmup} untimed warm-up step(s), then {steps} timed step(s); rates "
        "are timed samples over timed seconds.",
        "- Pretraining step: `JEPATrainer.train_batch` as `BrainJEPAPretrainer.fit` "
        "builds it (spatiotemporal masks with the library defaults, target encoder "
        "on all tokens without gradient, encoder on the context, predictor, L2 "
        "loss, backward, AdamW, EMA update). Every backend draws the same masks "
        "from the same seed and starts from the same weights.",
        "- Embedding: the encoder in eval mode on all tokens, without gradients.",
        "- Model FLOPs: matmul FLOPs from `pretraining_step_flops`"
        " (benchmarks/_flops.py) / `encoder_flops` for the context and target "
        "sizes actually drawn "
        "(patch embedding, gradient projection, qkv, attention scores and values, "
        "proj, MLP, predictor projections; backward = 2 x forward for the encoder "
        "and the predictor; the target encoder forward only). The same count for "
        "every backend.",
        f"- Dense matmul: best of 3 `{mm_size} x {mm_size}` {mm_dtype} matmuls "
        "(after one untimed), measured in each configuration's process just "
        "before its steps, with the same threads (other processes may load "
        f"this machine): {_matmul_range(runs)} TFLOP/s over the processes, "
        "each listed under Step times. The % columns divide the model FLOP/s "
        "by the figure of the same process.",
        "- Peak memory: "
        + (
            "`torch.cuda.max_memory_allocated` over the whole process (weights, "
            "optimiser state and activations)."
            if on_gpu
            else "the process's resident-set high-water mark (`getrusage`), "
            "reset after the imports (`/proc/self/clear_refs`), minus the "
            "resident size at that point: weights, optimiser state, activations "
            "and allocator slack."
        ),
        "- Attention: `auto` is the library default (flash-attn on CUDA when "
        "installed, else PyTorch SDPA); `math` is the plain reference that "
        "materialises the full token x token matrix (`softmax(q k^T / sqrt(d)) "
        "v`, like the official `attn_mode='normal'`).",
        "",
        "## Results",
        "",
    ]
    values = [r["matmul"] for r in runs.values() if "matmul" in r]
    if values and max(values) > LOAD_TOLERANCE * min(values):
        parts += [
            f"**Warning**: the dense matmul throughput varied from "
            f"{min(values) / 1e12:.3f} to {max(values) / 1e12:.3f} TFLOP/s between "
            "the processes of this run, so the machine's load changed: speed "
            "ratios between processes (speed-ups, compile gains) are unreliable. "
            "The % of matmul columns, each against its own process's figure, "
            "compare better.",
            "",
        ]
    header = [
        "preset",
        "attention",
        "train samples/s",
        "train TFLOP/s",
        "train % of matmul",
        "train peak MiB",
        "embed samples/s",
        "embed TFLOP/s",
        "embed % of matmul",
        "embed peak MiB",
    ]
    rows = []
    for preset in presets:
        for backend, compiled in variants:
            train = runs[(preset, backend, compiled, "train")]
            embed = runs[(preset, backend, compiled, "embed")]
            rows.append(
                [
                    preset,
                    _label(backend, compiled, train),
                    *_speed_cells(train),
                    *_speed_cells(embed),
                ]
            )
    parts += [table(header, rows), ""]

    parts += ["## Against the plain reference (same weights, data, masks)", ""]
    header = [
        "preset",
        "attention",
        "training speed-up",
        "embedding speed-up",
        "training peak memory",
        "embedding peak memory",
        "encoder outputs: max rel. diff",
        "first-step loss: rel. diff",
    ]
    rows = []
    verdicts = []
    for preset in presets:
        ref_train = runs[(preset, "math", False, "train")]
        ref_embed = runs[(preset, "math", False, "embed")]
        for backend, compiled in variants:
            if backend == "math":
                continue
            train = runs[(preset, backend, compiled, "train")]
            embed = runs[(preset, backend, compiled, "embed")]
            ratios = [
                _ratio(train, ref_train, "speed"),
                _ratio(embed, ref_embed, "speed"),
                _ratio(train, ref_train, "memory"),
                _ratio(embed, ref_embed, "memory"),
            ]
            diff_out = embed.get("max_rel_diff")
            diff_loss = train.get("loss_rel_diff")
            rows.append(
                [
                    preset,
                    _label(backend, compiled, train),
                    *("n/a" if r is None else f"{r:.2f} x" for r in ratios),
                    "n/a" if diff_out is None else f"{diff_out:.1e}",
                    "n/a" if diff_loss is None else f"{diff_loss:.1e}",
                ]
            )
            if compiled or None in ratios or diff_out is None or diff_loss is None:
                continue
            fast = ratios[0] >= 2 and ratios[1] >= 2
            lean = ratios[2] < 1 and ratios[3] < 1
            equal = diff_out <= 1e-4 and diff_loss <= 1e-4
            verdicts.append(
                f"- `{preset}`: at least 2 x faster than the reference (training "
                f"{ratios[0]:.2f} x, embedding {ratios[1]:.2f} x): {_verdict(fast)}; "
                f"lower peak memory (training {ratios[2]:.2f} x, embedding "
                f"{ratios[3]:.2f} x the reference's): {_verdict(lean)}; outputs "
                f"within 1e-4 (features {diff_out:.1e}, loss {diff_loss:.1e}): "
                f"{_verdict(equal)}."
            )
    parts += [
        table(header, rows),
        "",
        "Speed-up: samples/s over the reference's; peak memory: as a multiple of "
        "the reference's. Max rel. diff: `max|a - b| / max|b|` over the encoder "
        "features of the first batch (b: reference); loss: `|a - b| / |b|` of the "
        "first step's loss.",
        "",
        "## Targets (issue 6)",
        "",
    ]
    if n_tokens != 4500:
        parts += [
            f"Quick mode runs {n_tokens} tokens, not the targets' 4,500: the "
            "verdicts below describe this size only.",
            "",
        ]
    parts += verdicts
    for preset in presets:
        train = runs[(preset, "auto", False, "train")]
        if "error" in train:
            continue
        share = _rate(train, "flops") / train["matmul"]
        if on_gpu:
            if preset == "base":
                parts.append(
                    f"- `base` training on {device}: {100 * share:.0f} % of the "
                    "measured bf16 matmul throughput (target: above 40 % MFU on "
                    f"an H100): {_verdict(share > 0.4)}."
                )
        else:
            parts.append(
                f"- `{preset}` training step on the CPU: {100 * share:.0f} % of "
                "the measured float32 matmul throughput (target: above 35 %): "
                f"{_verdict(share > 0.35)}."
            )
    if not on_gpu:
        parts.append(
            "- H100 target (above 40 % MFU in bf16 for `base`): not measured in "
            "this run (no GPU)."
        )
    parts.append("")

    if any(compiled for _, compiled in variants):
        parts += ["## torch.compile", ""]
        header = ["preset", "mode", "warm-up s (compiled)", "warm-up s (eager)"]
        header += ["timed s/step (compiled)", "timed s/step (eager)", "speed-up"]
        rows = []
        for preset in presets:
            for mode in ("train", "embed"):
                comp = runs[(preset, "auto", True, mode)]
                eager = runs[(preset, "auto", False, mode)]
                if "error" in comp or "error" in eager:
                    rows.append(
                        [preset, mode, comp.get("error", ""), eager.get("error", "")]
                        + ["", "", ""]
                    )
                    continue
                rows.append(
                    [
                        preset,
                        mode,
                        f"{sum(comp['seconds'][: _untimed(comp)]):.1f}",
                        f"{sum(eager['seconds'][: _untimed(eager)]):.1f}",
                        f"{comp['batch_size'] / _rate(comp):.2f}",
                        f"{eager['batch_size'] / _rate(eager):.2f}",
                        f"{_rate(comp) / _rate(eager):.2f} x",
                    ]
                )
        parts += [
            "`nn.Module.compile()` (inductor, `dynamic=None`) on the encoder, the "
            "target encoder and the predictor. The compiled runs take "
            f"{COMPILE_EXTRA_WARMUP} more warm-up steps (the first call compiles, "
            "the second recompiles for new mask sizes and the filled positional "
            "cache), then reseed the mask generator, so that their remaining "
            "steps draw the eager runs' masks. Their warm-up time includes the "
            "compilation (helped by whatever inductor had cached from earlier "
            "runs on this machine).",
            "",
            table(header, rows),
            "",
        ]

    if breakdown:
        parts += ["## Where the time goes: one transformer block", ""]
        header = [
            "preset",
            "block",
            "tokens",
            "pass",
            "qkv + proj ms",
            "MLP ms",
            "attention sdpa ms",
            "attention math ms",
            "attention share (sdpa)",
            "attention share (math)",
        ]
        rows = []
        for preset, label, tokens, backward, t in breakdown:
            rest = t["qkv + proj"] + t["MLP"]
            sdpa, plain = t["attention (sdpa)"], t["attention (math)"]
            rows.append(
                [
                    preset,
                    label,
                    tokens,
                    "fwd + bwd" if backward else "fwd",
                    f"{1e3 * t['qkv + proj']:.1f}",
                    f"{1e3 * t['MLP']:.1f}",
                    f"{1e3 * sdpa:.1f}",
                    f"{1e3 * plain:.1f}",
                    f"{100 * sdpa / (sdpa + rest):.0f} %",
                    f"{100 * plain / (plain + rest):.0f} %",
                ]
            )
        parts += [
            "The parts of one block timed alone (best of 2 after a warm-up, batch "
            f"{batch_size}, {dtype}) at the token counts of the embedding and of the "
            "mean masks drawn above. The share is attention / (attention + qkv + "
            "proj + MLP); LayerNorms and residual adds are left out. A faster "
            "attention can speed a block up by at most 1 / (1 - share of the "
            "reference).",
            "",
            table(header, rows),
            "",
        ]

    parts += ["## Step times", ""]
    header = ["preset", "attention", "mode", "seconds per step (warm-up first)"]
    header += ["context / target tokens per step", "first-step loss"]
    header.append("dense matmul TFLOP/s")
    rows = []
    for (preset, backend, compiled, mode), r in runs.items():
        rows.append(
            [
                preset,
                _label(backend, compiled, r),
                mode,
                r.get("error") or ", ".join(f"{x:.3g}" for x in r["seconds"]),
                ", ".join(f"{c}/{t}" for c, t in r.get("tokens", [])),
                f"{r['first_loss']:.9g}" if "first_loss" in r else "",
                f"{r['matmul'] / 1e12:.3f}" if "matmul" in r else "",
            ]
        )
    parts += [table(header, rows), ""]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="tiny, 32x64, 1 step")
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time the default backend with torch.compile",
    )
    parser.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip timing the parts of one block (attention vs MLP)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    # _common.add_render_option's argument; _common itself is imported below,
    # so that the workers do not load what only the main process needs.
    parser.add_argument(
        "--render",
        metavar="JSON",
        type=Path,
        default=None,
        help="do not measure: re-render the Markdown of this stored run "
        "(written next to it, with the suffix .md)",
    )
    args = parser.parse_args(argv)
    if args.worker is not None:
        _worker_main(args.worker)
        return
    if args.render is not None:
        from _common import rerender

        rerender(args.render, render, "throughput")
        return

    import numpy as np
    import torch
    from _common import (
        max_relative_difference,
        now,
        run_record,
        save_run,
        set_threads,
        setup_logging,
    )

    setup_logging()
    set_threads(args.threads)
    for name in ("batch_size", "steps", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1; got {value}.")
    if args.warmup is not None and args.warmup < 0:
        parser.error(f"--warmup must be >= 0; got {args.warmup}.")
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    size = QUICK if args.quick else FULL
    presets = tuple(args.presets or size.get("presets", PRESETS))
    defaults = DEFAULTS["cuda" if device.type == "cuda" else "cpu"]
    if args.quick:
        defaults = {"batch_size": 1, "steps": 1, "warmup": 1}
    batch_size = args.batch_size or defaults["batch_size"]
    steps = args.steps or defaults["steps"]
    warmup = defaults["warmup"] if args.warmup is None else args.warmup
    n_rois, n_timepoints = size["n_rois"], size["n_timepoints"]
    n_tokens = n_rois * (n_timepoints // PATCH)
    stem = "throughput" + ("_quick" if args.quick else "")
    stem += "_compile" if args.compile else ""
    stem += "_cuda" if device.type == "cuda" else ""
    compute_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    mm_size = 8192 if device.type == "cuda" else (512 if args.quick else 4096)
    variants = [(b, False) for b in BACKENDS]
    if args.compile:
        variants.insert(1, ("auto", True))
    started, tic = now(), time.perf_counter()
    record = run_record(
        "throughput",
        quick=args.quick,
        started=started,
        settings={
            "device": str(device),
            "device_type": device.type,
            "threads": args.threads,
            "seed": args.seed,
            "presets": presets,
            "variants": variants,
            "compile": args.compile,
            "n_rois": n_rois,
            "n_timepoints": n_timepoints,
            "n_tokens": n_tokens,
            "patch_size": PATCH,
            "gradient_dim": GRADIENT_DIM,
            "batch_size": batch_size,
            "steps": steps,
            "warmup": warmup,
            "mm_size": mm_size,
        },
    )
    logger.info(
        "%s | %s | device %s", record["command"], record["machine"]["CPU"], device
    )

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            for backend, compiled in variants:
                job = {
                    "preset": preset,
                    "backend": backend,
                    "compile": compiled,
                    # Compiled modules compile on the first call and recompile
                    # on the second (new mask sizes; filled positional cache).
                    "extra_warmup": COMPILE_EXTRA_WARMUP if compiled else 0,
                    "warmup": warmup,
                    "n_rois": n_rois,
                    "n_timepoints": n_timepoints,
                    "batch_size": batch_size,
                    "steps": steps,
                    "threads": args.threads,
                    "device": str(device),
                    "seed": args.seed,
                    "matmul_size": mm_size,
                    "save_to": str(
                        Path(tmp) / f"{preset}_{backend}_{int(compiled)}.npy"
                    ),
                }
                # A fresh process per mode, so that each peak is its own; the
                # quick mode saves start-up time with one process for both.
                groups = (
                    [("embed", "train")] if args.quick else [("train",), ("embed",)]
                )
                for modes in groups:
                    outcome = run_worker({**job, "modes": list(modes)})
                    for mode in modes:
                        result = {**job, "mode": mode, **outcome[mode]}
                        results[(preset, backend, compiled, mode)] = result
                        _log_result(result)
            # Same weights, data and masks: compare outputs with the reference.
            reference = Path(tmp) / f"{preset}_math_0.npy"
            for backend, compiled in variants:
                path = Path(tmp) / f"{preset}_{backend}_{int(compiled)}.npy"
                row = results[(preset, backend, compiled, "embed")]
                if backend == "math" or not (path.exists() and reference.exists()):
                    continue
                a, b = np.load(path), np.load(reference)
                row["max_rel_diff"] = max_relative_difference(a, b)
                tr = results[(preset, backend, compiled, "train")]
                ref_tr = results[(preset, "math", False, "train")]
                if "error" not in tr and "error" not in ref_tr:
                    ref_loss = ref_tr["first_loss"]
                    tr["loss_rel_diff"] = abs(tr["first_loss"] - ref_loss) / abs(
                        ref_loss
                    )

    breakdown = []
    if not args.no_breakdown:
        for preset in presets:
            breakdown += time_block_parts(
                preset, results, n_rois, n_timepoints, batch_size, device, compute_dtype
            )
    record.update(
        # One entry per preset, attention variant and mode: the job, the
        # worker's measurements (or its "error") and the output differences.
        runs=[{k: v for k, v in r.items() if k != "save_to"} for r in results.values()],
        breakdown=[
            {
                "preset": preset,
                "block": label,
                "tokens": tokens,
                "backward": backward,
                "seconds": parts,
            }
            for preset, label, tokens, backward, parts in breakdown
        ],
        load_average_end=_load_average(),
        wall_seconds=time.perf_counter() - tic,
    )
    save_run(args.out, stem, record, render)
    logger.info("done in %.1f min", record["wall_seconds"] / 60)


if __name__ == "__main__":
    main()
