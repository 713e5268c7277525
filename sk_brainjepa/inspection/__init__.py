"""Model inspection: the attention ROIs and functional networks receive."""

from sk_brainjepa.inspection._attention_maps import network_attention, roi_attention

__all__ = ["network_attention", "roi_attention"]
