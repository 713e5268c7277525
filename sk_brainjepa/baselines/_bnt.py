"""Brain Network Transformer: ROI tokens, self-attention, orthonormal cluster readout.

Each ROI is a token whose features are its row of the FC matrix (Kan et al.,
2022). A post-norm transformer encoder mixes the tokens and an Orthonormal
Clustering Readout (OCRead) pools them into a fixed number of soft clusters. This
module holds only the torch modules; the sklearn/skorch estimator lives
elsewhere.

Differences from the reference implementation (github.com/Wayfear/
BrainNetworkTransformer, files ``source/models/BNT/`` and ``conf/model/bnt.yaml``):

* The FC rows are projected to ``hidden_dim`` before the encoder, so the
  attention width does not depend on the ROI count. The reference uses
  d_model = n_rois with 4 heads, which only works when n_rois is a multiple of 4;
  here any ROI count works.
* OCRead has no DEC autoencoder over the flattened graph (its Linear over
  n_rois * d inputs dominated the parameter count and ties the readout to node
  order; the reference never uses its KL loss either). Assignments are a
  softmax over clusters of the inner products between node embeddings and the
  orthonormally initialised centres.
* The centres are learnable by default (``freeze_centers=False``); the reference
  freezes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.baselines._brainnetcnn import (
    check_fc_tensor,
    check_int_sequence,
    check_probability,
    init_linear_,
)
from sk_brainjepa.nn import fresh_generator, glorot_uniform_, materialize_

# Default attention width per head when ``hidden_dim`` is None: 4 heads -> 64.
_DIM_PER_HEAD = 16


def orthonormal_rows(
    n_rows: int, n_cols: int, generator: torch.Generator
) -> torch.Tensor:
    """A random (n_rows, n_cols) float32 matrix with orthonormal rows.

    The Q factor of a Gaussian (n_cols, n_rows) matrix, transposed, with column
    signs fixed by the sign of R's diagonal (which makes the factorisation
    unique and the result uniformly distributed). Needs ``n_rows <= n_cols``.
    Drawn on the generator's device.

    Parameters
    ----------
    n_rows, n_cols : int
        Shape of the result.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    rows : torch.Tensor of shape (n_rows, n_cols)
    """
    if n_rows > n_cols:
        raise ValueError(
            f"cannot draw {n_rows} orthonormal rows of width {n_cols}; need "
            f"n_rows <= n_cols."
        )
    gauss = torch.empty(n_cols, n_rows, device=generator.device)
    gauss.normal_(0.0, 1.0, generator=generator)
    q, r = torch.linalg.qr(gauss)  # (n_cols, n_rows), (n_rows, n_rows)
    signs = torch.where(torch.diagonal(r) < 0, -1.0, 1.0)
    return (q * signs).T.contiguous()  # (n_rows, n_cols)


class OrthonormalClusterReadout(nn.Module):
    """Orthonormal Clustering Readout (OCRead): soft-cluster nodes, pool per cluster.

    ``A = softmax_k(H C^T)`` assigns each node to the K clusters, and the pooled
    graph representation is ``A^T H`` of shape (K, D). Because the pooling sums
    over nodes, the output does not depend on the order of the nodes.

    Parameters
    ----------
    embed_dim : int
        Node embedding width D.
    n_clusters : int
        Number of clusters K; at most ``embed_dim`` (orthonormal centres).
    freeze_centers : bool, default=False
        Keep the centres at their orthonormal initial values (``requires_grad``
        False), as the reference implementation does.
    generator : torch.Generator or None, default=None
        Source of the initial centres; None draws a fresh OS seed. The global
        torch RNG is never consumed.

    Attributes
    ----------
    centers : torch.nn.Parameter of shape (n_clusters, embed_dim)
        Cluster centres; orthonormal rows at initialisation.
    """

    def __init__(
        self,
        embed_dim: int,
        n_clusters: int,
        *,
        freeze_centers: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.embed_dim = check_int(embed_dim, "embed_dim")
        self.n_clusters = check_int(n_clusters, "n_clusters")
        if n_clusters > embed_dim:
            raise ValueError(
                f"n_clusters={n_clusters} orthonormal centres need "
                f"n_clusters <= embedding width, but the width is {embed_dim}."
            )
        # The initialisation idiom (sk_brainjepa.nn._init).
        with torch.device("meta"):
            self.centers = nn.Parameter(
                torch.empty(n_clusters, embed_dim), requires_grad=not freeze_centers
            )
        materialize_(self)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw fresh orthonormal centres.

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        if self.centers.device.type == "meta":
            return  # shape-only (built inside an outer meta build): draw nothing
        generator = fresh_generator(generator)
        with torch.no_grad():
            self.centers.copy_(
                orthonormal_rows(self.n_clusters, self.embed_dim, generator)
            )

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool node embeddings into clusters.

        Parameters
        ----------
        h : torch.Tensor of shape (B, N, embed_dim)
            Node embeddings.

        Returns
        -------
        pooled : torch.Tensor of shape (B, n_clusters, embed_dim)
            Assignment-weighted sums of node embeddings.
        assignments : torch.Tensor of shape (B, N, n_clusters)
            Soft assignments; each row sums to 1.
        """
        if h.ndim != 3 or h.shape[-1] != self.embed_dim:
            raise ValueError(
                f"h must have shape (batch, n_nodes, {self.embed_dim}); got "
                f"{tuple(h.shape)}."
            )
        logits = h @ self.centers.T  # (B, N, K)
        assignments = logits.softmax(dim=-1)  # (B, N, K)
        pooled = assignments.transpose(1, 2) @ h  # (B, K, D)
        return pooled, assignments

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, n_clusters={self.n_clusters}"


class BrainNetworkTransformer(nn.Module):
    """Brain Network Transformer over the rows of FC matrices.

    FC rows (one token per ROI, no positional embedding: the row already
    identifies its node) -> Linear to ``hidden_dim`` -> ``n_layers`` post-norm
    transformer encoder layers -> OCRead into ``n_clusters`` clusters -> a
    Linear(hidden_dim, readout_dim) + leaky ReLU per cluster -> flatten
    (n_clusters * readout_dim) -> MLP (``head_hidden``, leaky ReLU) -> linear
    output.

    Parameters
    ----------
    n_rois : int
        Number of ROIs R; any value >= 1.
    n_outputs : int
        Output width: the number of classes (logits), or 1 for regression (the
        output then has shape (B, 1)).
    n_layers : int, default=2
        Transformer encoder layers (the reference uses 2).
    n_heads : int, default=4
        Attention heads; must divide ``hidden_dim``.
    hidden_dim : int or None, default=None
        Token width after the input projection (the attention width). None means
        ``16 * n_heads`` (64 for 4 heads).
    ff_dim : int or None, default=None
        Feed-forward width of each encoder layer. None means ``4 * hidden_dim``
        (the reference uses 1024).
    dropout : float, default=0.1
        Dropout inside the encoder layers (``nn.Dropout``, inactive in eval
        mode).
    n_clusters : int, default=10
        OCRead clusters K (the reference uses 100); at most ``hidden_dim``.
    readout_dim : int, default=8
        Width each cluster embedding is reduced to before flattening.
    head_hidden : sequence of int, default=(256, 32)
        Widths of the MLP head's hidden layers; may be empty.
    negative_slope : float, default=0.01
        Slope of the leaky ReLUs of the readout and head.
    freeze_centers : bool, default=False
        Keep the OCRead centres fixed at their orthonormal initial values.
    generator : torch.Generator or None, default=None
        Source of the initial weights; None draws a fresh OS seed. The global
        torch RNG is never consumed.

    Attributes
    ----------
    hidden_dim : int
        Resolved token width D.
    input_proj : torch.nn.Linear
        FC row (R) -> token (D).
    layers : torch.nn.ModuleList of torch.nn.TransformerEncoderLayer
    readout : OrthonormalClusterReadout
    cluster_proj : torch.nn.Linear
        Per-cluster reduction D -> ``readout_dim``.
    head : torch.nn.ModuleList of torch.nn.Linear
    out : torch.nn.Linear

    Notes
    -----
    Permuting the ROIs of an input (rows and columns together) reorders the
    tokens *and* the features inside each token, so predictions change unless
    the columns of ``input_proj.weight`` are permuted the same way: the model
    uses node identity through the FC columns, as the paper intends. Reordering
    only the tokens (the rows) permutes the node embeddings and leaves the
    prediction unchanged, because self-attention is permutation-equivariant and
    OCRead sums over nodes.

    Linear and attention weights are Glorot-uniform with zero biases,
    LayerNorms start at weight 1 and bias 0.

    References
    ----------
    .. [1] Kan, X., Dai, W., Cui, H., Zhang, Z., Guo, Y. and Yang, C. (2022).
       Brain Network Transformer. Advances in Neural Information Processing
       Systems 35 (NeurIPS 2022). arXiv:2210.06681.
    .. [2] Vaswani, A. et al. (2017). Attention is all you need. Advances in
       Neural Information Processing Systems 30.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> model = BrainNetworkTransformer(7, 2, n_heads=2, n_clusters=4,
    ...                                 generator=g).eval()
    >>> logits, assign = model(torch.randn(3, 7, 7, generator=g),
    ...                        return_assignments=True)
    >>> logits.shape, assign.shape
    (torch.Size([3, 2]), torch.Size([3, 7, 4]))
    """

    def __init__(
        self,
        n_rois: int,
        n_outputs: int,
        *,
        n_layers: int = 2,
        n_heads: int = 4,
        hidden_dim: int | None = None,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        n_clusters: int = 10,
        readout_dim: int = 8,
        head_hidden: Sequence[int] = (256, 32),
        negative_slope: float = 0.01,
        freeze_centers: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_rois = check_int(n_rois, "n_rois")
        self.n_outputs = check_int(n_outputs, "n_outputs")
        n_layers = check_int(n_layers, "n_layers")
        n_heads = check_int(n_heads, "n_heads")
        if hidden_dim is None:
            hidden_dim = _DIM_PER_HEAD * n_heads
        hidden_dim = check_int(hidden_dim, "hidden_dim")
        if hidden_dim % n_heads:
            raise ValueError(
                f"hidden_dim={hidden_dim} must be divisible by n_heads={n_heads}."
            )
        ff_dim = check_int(4 * hidden_dim if ff_dim is None else ff_dim, "ff_dim")
        dropout = check_probability(dropout, "dropout")
        n_clusters = check_int(n_clusters, "n_clusters")
        if n_clusters > hidden_dim:
            raise ValueError(
                f"n_clusters={n_clusters} must be <= hidden_dim={hidden_dim} so "
                "that the cluster centres can be orthonormal."
            )
        readout_dim = check_int(readout_dim, "readout_dim")
        head_hidden = check_int_sequence(head_hidden, "head_hidden")
        self.hidden_dim = hidden_dim
        self.n_clusters = n_clusters
        # The initialisation idiom (sk_brainjepa.nn._init): shape-only build,
        # allocate, draw everything from `generator`.
        with torch.device("meta"):
            self.input_proj = nn.Linear(n_rois, hidden_dim)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    hidden_dim,
                    n_heads,
                    dim_feedforward=ff_dim,
                    dropout=dropout,
                    activation="relu",
                    batch_first=True,
                    norm_first=False,  # post-norm, as in the reference
                )
                for _ in range(n_layers)
            )
            self.readout = OrthonormalClusterReadout(
                hidden_dim, n_clusters, freeze_centers=freeze_centers
            )
            self.cluster_proj = nn.Linear(hidden_dim, readout_dim)
            dims = (n_clusters * readout_dim, *head_hidden)
            self.head = nn.ModuleList(
                nn.Linear(d_in, d_out)
                for d_in, d_out in zip(dims[:-1], dims[1:], strict=True)
            )
            self.out = nn.Linear(dims[-1], n_outputs)
        materialize_(self)
        self.act = nn.LeakyReLU(negative_slope)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw all weights from ``generator``.

        Linear layers and the query/key/value projections are Glorot-uniform
        (each of q, k, v with fans (D, D)) with zero biases; LayerNorms are reset
        to weight 1, bias 0; the cluster centres are redrawn orthonormal.

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        generator = fresh_generator(generator)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                init_linear_(module, generator)
            elif isinstance(module, nn.MultiheadAttention):
                # Packed (3D, D) q/k/v weight: three D x D maps.
                d = module.embed_dim
                glorot_uniform_(module.in_proj_weight, d, d, generator)
                with torch.no_grad():
                    module.in_proj_bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                with torch.no_grad():
                    module.weight.fill_(1.0)
                    module.bias.zero_()
        self.readout.reset_parameters(generator)

    def node_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """Encode each ROI's FC row into a node embedding (before the readout).

        Parameters
        ----------
        x : torch.Tensor of shape (B, n_rois, n_rois)
            Batch of FC matrices.

        Returns
        -------
        h : torch.Tensor of shape (B, n_rois, hidden_dim)
        """
        x = check_fc_tensor(x, self.n_rois)  # (B, R, R)
        h = self.input_proj(x)  # (B, R, D): row i -> token i
        for layer in self.layers:
            h = layer(h)  # (B, R, D)
        return h

    def forward(
        self, x: torch.Tensor, return_assignments: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Predict from FC matrices.

        Parameters
        ----------
        x : torch.Tensor of shape (B, n_rois, n_rois)
            Batch of FC matrices.
        return_assignments : bool, default=False
            Also return the soft cluster assignments (for interpretation).

        Returns
        -------
        out : torch.Tensor of shape (B, n_outputs)
            Logits (classification) or predictions (regression).
        assignments : torch.Tensor of shape (B, n_rois, n_clusters)
            Only if ``return_assignments``: soft assignment of each ROI to each
            cluster; rows sum to 1.
        """
        h = self.node_embeddings(x)  # (B, R, D)
        pooled, assignments = self.readout(h)  # (B, K, D), (B, R, K)
        z = self.act(self.cluster_proj(pooled))  # (B, K, readout_dim)
        z = z.flatten(1)  # (B, K * readout_dim)
        for linear in self.head:
            z = self.act(linear(z))  # (B, H)
        out = self.out(z)  # (B, n_outputs)
        if return_assignments:
            return out, assignments
        return out
