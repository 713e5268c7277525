"""Torch modules of Brain-JEPA: encoder, predictor, their layers and configs.

Nothing here knows about scikit-learn: modules take frozen dataclass configs and
tensors. Key names follow the official checkpoint, whose encoders
:func:`convert_official_encoder_state_dict` translates.
"""

from sk_brainjepa.nn._attention import (
    attention,
    flash_attn_available,
    math_attention,
    select_attention_backend,
)
from sk_brainjepa.nn._checkpoint_conversion import (
    convert_official_encoder_state_dict,
    infer_encoder_config_from_state_dict,
)
from sk_brainjepa.nn._config import (
    ATTENTION_BACKENDS,
    MODEL_PRESETS,
    ROI_EMBEDDINGS,
    EncoderConfig,
    PredictorConfig,
    model_config,
)
from sk_brainjepa.nn._deprecated import (
    gather_tokens,  # deprecated alias
    renamed_attribute,
)
from sk_brainjepa.nn._encoder import BrainJEPAEncoder
from sk_brainjepa.nn._finetune import (
    BrainJEPAFineTuneModel,
    layer_decay_groups,
    layer_id,
    reset_top_blocks_,
)
from sk_brainjepa.nn._init import (
    fresh_generator,
    glorot_uniform_,
    init_weights_,
    materialize_,
)
from sk_brainjepa.nn._layers import (
    MLP,
    Attention,
    Block,
    BrainPositionalEmbedding,
    PatchEmbed,
    roi_sincos_embedding,
    sincos_embedding_1d,
    time_sincos_embedding,
)
from sk_brainjepa.nn._predictor import BrainJEPAPredictor
from sk_brainjepa.nn._readout import (
    FEATURE_READOUTS,
    READOUTS,
    n_readout_features,
    read_out,
    token_connectivity,
    token_lagged_connectivity,
)

__all__ = [
    "ATTENTION_BACKENDS",
    "MLP",
    "MODEL_PRESETS",
    "ROI_EMBEDDINGS",
    "Attention",
    "Block",
    "BrainJEPAEncoder",
    "BrainJEPAFineTuneModel",
    "BrainJEPAPredictor",
    "BrainPositionalEmbedding",
    "EncoderConfig",
    "FEATURE_READOUTS",
    "PatchEmbed",
    "PredictorConfig",
    "READOUTS",
    "attention",
    "convert_official_encoder_state_dict",
    "flash_attn_available",
    "fresh_generator",
    "gather_tokens",
    "glorot_uniform_",
    "layer_decay_groups",
    "layer_id",
    "infer_encoder_config_from_state_dict",
    "init_weights_",
    "materialize_",
    "math_attention",
    "model_config",
    "n_readout_features",
    "read_out",
    "reset_top_blocks_",
    "roi_sincos_embedding",
    "select_attention_backend",
    "sincos_embedding_1d",
    "time_sincos_embedding",
    "token_connectivity",
    "token_lagged_connectivity",
]


def __getattr__(name: str):
    # Former names (PEP 562): BrainJEPAPredictionModel -> BrainJEPAFineTuneModel
    # warns on access and hands out the new object; see _deprecated.RENAMED.
    return renamed_attribute(__name__, name)
