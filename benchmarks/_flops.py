"""Analytic model FLOP counts of the encoder, the predictor and a pretraining step.

Only matrix products are counted, two FLOPs per multiply-add, as in the usual
model-FLOP-utilisation (MFU) convention: the patch embedding, the gradient
projection of the positional embedding, ``qkv``, the attention scores
``q k^T`` and their product with ``v``, the output projection ``proj``, the two
MLP layers, and the predictor's input and output projections. Biases,
LayerNorms, softmax, GELU, gathers and the loss are left out (they are a few
percent at most and run far below matmul speed). The count is the same for every
attention backend: a memory-efficient kernel does the same products as the
explicit ``softmax(q k^T) v``, without storing the matrix.

Used by ``throughput.py`` (``from _flops import ...``, as the benchmarks import
``_common``); tested in ``tests/benchmarks/test_flops.py``.
"""

from __future__ import annotations

from numbers import Integral

from sk_brainjepa.nn import EncoderConfig, PredictorConfig


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def block_flops(n_tokens: int, dim: int, mlp_hidden: int) -> int:
    """Forward matmul FLOPs of one transformer block for one sample.

    Parameters
    ----------
    n_tokens : int
        Tokens ``N`` attending to each other.
    dim : int
        Token width ``D`` (all heads together).
    mlp_hidden : int
        MLP hidden width ``H``.

    Returns
    -------
    flops : int
        ``2 N D 3D`` (qkv) + ``2 N^2 D`` (scores over all heads) + ``2 N^2 D``
        (weights times values) + ``2 N D^2`` (proj) + ``4 N D H`` (fc1, fc2)
        ``= N (8 D^2 + 4 D H) + 4 N^2 D``.

    Examples
    --------
    >>> block_flops(2, 4, 8)
    576
    """
    n = _check_count("n_tokens", n_tokens, 0)
    d = _check_count("dim", dim, 1)
    h = _check_count("mlp_hidden", mlp_hidden, 1)
    return n * (8 * d * d + 4 * d * h) + 4 * n * n * d


def _positional_flops(config: EncoderConfig | PredictorConfig, width: int) -> int:
    # Linear(gradient_dim, width / 2) on the n_rois gradient rows; the sin-cos
    # codes are frozen lookups.
    if config.roi_embedding != "gradient":
        return 0
    return 2 * config.n_rois * config.gradient_dim * (width // 2)


def encoder_flops(
    config: EncoderConfig, n_time_patches: int, n_tokens: int | None = None
) -> int:
    """Forward matmul FLOPs of :class:`BrainJEPAEncoder` for one sample.

    Parameters
    ----------
    config : EncoderConfig
    n_time_patches : int
        Time patches per ROI ``W`` (``T // patch_size``).
    n_tokens : int or None, default=None
        Tokens that go through the blocks (the observation's size); None means
        all ``n_rois * W``. The patch embedding always runs on all of them
        (the encoder embeds the whole grid, then keeps the observed tokens).

    Returns
    -------
    flops : int
        Patch embedding ``2 R W p D`` + gradient projection ``2 R m D/2`` +
        ``depth`` blocks on ``n_tokens`` tokens.

    Examples
    --------
    >>> from sk_brainjepa.nn import model_config
    >>> enc, _ = model_config("base", n_rois=450)
    >>> round(encoder_flops(enc, 10) / 1e12, 3)  # 4500 tokens, TFLOP
    1.511
    """
    if not isinstance(config, EncoderConfig):
        raise TypeError(
            f"config must be an EncoderConfig; got {type(config).__name__}."
        )
    w = _check_count("n_time_patches", n_time_patches, 1)
    grid = config.n_rois * w
    n = grid if n_tokens is None else _check_count("n_tokens", n_tokens, 0)
    if n > grid:
        raise ValueError(
            f"n_tokens={n} exceeds the n_rois * n_time_patches = {grid} tokens of "
            "the grid."
        )
    d = config.embed_dim
    patch = 2 * grid * config.patch_size * d
    blocks = config.depth * block_flops(n, d, int(d * config.mlp_ratio))
    return patch + _positional_flops(config, d) + blocks


def predictor_flops(config: PredictorConfig, n_context: int, n_target: int) -> int:
    """Forward matmul FLOPs of :class:`BrainJEPAPredictor` for one sample.

    Parameters
    ----------
    config : PredictorConfig
    n_context : int
        Context (observation) tokens read from the encoder.
    n_target : int
        Target tokens predicted.

    Returns
    -------
    flops : int
        ``predictor_embed`` on the context ``2 K_c E D_p`` + gradient projection
        ``2 R m D_p/2`` + ``depth`` blocks on ``K_c + K_t`` tokens +
        ``predictor_proj`` on the targets ``2 K_t D_p E``.
    """
    if not isinstance(config, PredictorConfig):
        raise TypeError(
            f"config must be a PredictorConfig; got {type(config).__name__}."
        )
    k_c = _check_count("n_context", n_context, 0)
    k_t = _check_count("n_target", n_target, 0)
    d, e = config.embed_dim, config.encoder_dim
    blocks = config.depth * block_flops(k_c + k_t, d, int(d * config.mlp_ratio))
    io = 2 * k_c * e * d + 2 * k_t * d * e
    return io + _positional_flops(config, d) + blocks


def pretraining_step_flops(
    encoder_config: EncoderConfig,
    predictor_config: PredictorConfig,
    n_time_patches: int,
    n_context: int,
    n_target: int,
    batch_size: int = 1,
) -> int:
    """Model FLOPs of one Brain-JEPA pretraining step.

    The target encoder runs forward on all tokens (no gradient); the encoder on
    the context tokens and the predictor run forward and backward, the backward
    pass counted as twice the forward (the usual ``6 N`` convention: a gradient
    for the input and one for the weights of every product).

    Parameters
    ----------
    encoder_config : EncoderConfig
        Shared by the encoder and the target encoder.
    predictor_config : PredictorConfig
    n_time_patches : int
        Time patches per ROI ``W``.
    n_context, n_target : int
        Observation and target tokens per sample (as drawn by the masker).
    batch_size : int, default=1

    Returns
    -------
    flops : int
        ``batch_size * (encoder_flops(all) + 3 * (encoder_flops(n_context)
        + predictor_flops(n_context, n_target)))``.
    """
    b = _check_count("batch_size", batch_size, 1)
    target = encoder_flops(encoder_config, n_time_patches)
    trained = encoder_flops(encoder_config, n_time_patches, n_context)
    trained += predictor_flops(predictor_config, n_context, n_target)
    return b * (target + 3 * trained)
