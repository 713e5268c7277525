"""BrainNetCNN: convolutions shaped to the topology of a connectivity matrix.

Three layer types replace the local filters of an image CNN (Kawahara et al.,
2017): Edge-to-Edge (a cross-shaped filter over the row and the column of an
edge), Edge-to-Node (a filter over a node's row) and Node-to-Graph (a filter over
all nodes). This module holds only the torch modules; the sklearn/skorch
estimator lives elsewhere.

Differences from the re-implementation in the Brain Network Transformer
repository (github.com/Wayfear/BrainNetworkTransformer, file
``source/models/brainnetcnn.py``): dropout is an ``nn.Dropout``
module (off in eval mode, so predictions are deterministic), the channel widths
default to the paper's (E2E 32, 32; E2N 64), and the output layer has no
activation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.nn import fresh_generator, glorot_uniform_, materialize_

# --------------------------------------------------------------------- helpers


def init_linear_(linear: nn.Linear, generator: torch.Generator) -> None:
    """Glorot-uniform weight and zero bias for ``linear`` (the paper's init).

    See :func:`sk_brainjepa.nn.glorot_uniform_`.
    """
    glorot_uniform_(linear.weight, linear.in_features, linear.out_features, generator)
    if linear.bias is not None:
        with torch.no_grad():
            linear.bias.zero_()


def check_int_sequence(values, name: str) -> tuple[int, ...]:
    """A tuple of positive ints from ``values`` (which may be empty)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(
            f"{name} must be a sequence of positive integers; got {values!r}."
        )
    return tuple(check_int(v, f"{name}[{i}]") for i, v in enumerate(values))


def check_probability(value, name: str) -> float:
    """``value`` as a float in [0, 1), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a float in [0, 1); got {value!r}.")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1); got {value!r}.")
    return float(value)


def check_fc_tensor(x: torch.Tensor, n_rois: int, n_channels: int | None = None):
    """Check an FC batch of shape (B, R, R), or (B, C, R, R) if ``n_channels``.

    A 3-D input is accepted for ``n_channels`` in (None, 1); with
    ``n_channels`` set it is returned with a channel axis, shape (B, 1, R, R).
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor; got {type(x).__name__}.")
    shape = tuple(x.shape)
    if n_channels is None:
        expected = f"(batch, {n_rois}, {n_rois})"
        ok_ndim = x.ndim == 3
    else:
        expected = f"(batch, {n_channels}, {n_rois}, {n_rois})"
        if n_channels == 1:
            expected += f" or (batch, {n_rois}, {n_rois})"
        ok_ndim = x.ndim == 4 or (x.ndim == 3 and n_channels == 1)
    if not ok_ndim:
        raise ValueError(
            f"x must be a batch of FC matrices of shape {expected}; got {shape}."
        )
    if shape[-1] != shape[-2]:
        raise ValueError(
            f"x must hold square FC matrices of shape {expected}; got non-square "
            f"shape {shape}."
        )
    if shape[-1] != n_rois:
        raise ValueError(
            f"x has {shape[-1]} ROIs but the model was built for n_rois={n_rois}; "
            f"expected shape {expected}, got {shape}."
        )
    if n_channels is not None:
        if x.ndim == 3:
            x = x.unsqueeze(1)  # (B, 1, R, R)
        elif shape[1] != n_channels:
            raise ValueError(
                f"x has {shape[1]} channels but the model was built for "
                f"in_channels={n_channels}; expected shape {expected}, got {shape}."
            )
    return x


# ---------------------------------------------------------------------- layers


class _RoiFilterBank(nn.Module):
    """F filters, each a weight per (input channel, ROI), plus a bias per filter.

    The shared parameters of the Edge-to-Edge, Edge-to-Node and Node-to-Graph
    layers, whose filters span all ROIs (a 1 x R or R x 1 convolution): one
    ``(F, C, R)`` weight per name in ``_weight_names``, Glorot-uniform with
    fans ``C * R`` and ``F * R`` times ``_gain``, as in the BrainNetCNN paper,
    and zero biases. Built with the package's initialisation idiom (module
    docstring of ``sk_brainjepa.nn._init``); ``generator`` (keyword, default
    None: a fresh OS seed) is the source of the initial weights.
    """

    _weight_names: tuple[str, ...] = ("weight",)
    _gain: float = 1.0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_rois: int,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels")
        self.out_channels = check_int(out_channels, "out_channels")
        self.n_rois = check_int(n_rois, "n_rois")
        with torch.device("meta"):
            for name in self._weight_names:
                weight = nn.Parameter(torch.empty(out_channels, in_channels, n_rois))
                setattr(self, name, weight)
            self.bias = nn.Parameter(torch.empty(out_channels))
        materialize_(self)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Glorot-uniform weights (fans C * R, F * R, times ``_gain``), zero biases.

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        generator = fresh_generator(generator)
        fan_in = self.in_channels * self.n_rois
        fan_out = self.out_channels * self.n_rois
        for name in self._weight_names:
            weight = getattr(self, name)
            glorot_uniform_(weight, fan_in, fan_out, generator, gain=self._gain)
        with torch.no_grad():
            self.bias.zero_()

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, n_rois={self.n_rois}"


class EdgeToEdge(_RoiFilterBank):
    """Edge-to-Edge (E2E) layer: a cross-shaped filter over row i and column j.

    ``out[b, f, i, j] = sum_c sum_k (w_row[f, c, k] * x[b, c, i, k]
    + w_col[f, c, k] * x[b, c, k, j]) + bias[f]``: the sum of a 1 x R and an
    R x 1 convolution, each broadcast back to R x R.

    Parameters
    ----------
    in_channels : int
        Input channels C.
    out_channels : int
        Filters F.
    n_rois : int
        Number of ROIs R (the filter length).

    Attributes
    ----------
    weight_row : torch.nn.Parameter of shape (out_channels, in_channels, n_rois)
        Row (1 x R) filters.
    weight_col : torch.nn.Parameter of shape (out_channels, in_channels, n_rois)
        Column (R x 1) filters.
    bias : torch.nn.Parameter of shape (out_channels,)
        One bias per filter (the two convolutions' biases would be redundant).
    """

    # Two summed convolutions: each gets the Glorot bound of a conv with a
    # 1 x R kernel (fan_in = C * R, fan_out = F * R) scaled by 1/sqrt(2), so the
    # output variance matches a single convolution's.
    _weight_names = ("weight_row", "weight_col")
    _gain = math.sqrt(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, C, R, R) edge features (or (B, R, R) if C = 1) to (B, F, R, R)."""
        x = check_fc_tensor(x, self.n_rois, self.in_channels)  # (B, C, R, R)
        row = torch.einsum("bcik,fck->bfi", x, self.weight_row)  # (B, F, R)
        col = torch.einsum("bckj,fck->bfj", x, self.weight_col)  # (B, F, R)
        # row response tiled along j, column response tiled along i
        return row[..., :, None] + col[..., None, :] + self.bias[:, None, None]


class EdgeToNode(_RoiFilterBank):
    """Edge-to-Node (E2N) layer: a 1 x R filter, one value per node.

    ``out[b, f, i] = sum_c sum_k w[f, c, k] * x[b, c, i, k] + bias[f]``. The
    original code keeps only the row term (adding the column term gave no
    consistent gain); for symmetric FC the two are the same anyway.

    Parameters
    ----------
    in_channels : int
        Input channels C.
    out_channels : int
        Filters F.
    n_rois : int
        Number of ROIs R.

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (out_channels, in_channels, n_rois)
    bias : torch.nn.Parameter of shape (out_channels,)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, C, R, R) edge features (or (B, R, R) if C = 1) to (B, F, R)."""
        x = check_fc_tensor(x, self.n_rois, self.in_channels)  # (B, C, R, R)
        out = torch.einsum("bcik,fck->bfi", x, self.weight)  # (B, F, R)
        return out + self.bias[:, None]


class NodeToGraph(_RoiFilterBank):
    """Node-to-Graph (N2G) layer: an R x 1 filter over all nodes.

    ``out[b, g] = sum_c sum_i w[g, c, i] * x[b, c, i] + bias[g]``.

    Parameters
    ----------
    in_channels : int
        Input channels C.
    out_channels : int
        Filters G.
    n_rois : int
        Number of ROIs R.

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (out_channels, in_channels, n_rois)
    bias : torch.nn.Parameter of shape (out_channels,)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, C, R) node features to (B, G) graph features."""
        expected = (self.in_channels, self.n_rois)
        if x.ndim != 3 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x must have shape (batch, {expected[0]}, {expected[1]}); got "
                f"{tuple(x.shape)}."
            )
        return torch.einsum("bci,gci->bg", x, self.weight) + self.bias  # (B, G)


# ----------------------------------------------------------------------- model


class BrainNetCNN(nn.Module):
    """BrainNetCNN for a batch of functional-connectivity matrices.

    E2E layers (one per entry of ``e2e_channels``) -> E2N -> N2G -> fully
    connected layers (``hidden``) -> linear output. Every layer but the output
    is followed by a leaky ReLU; dropout follows E2N, N2G and each hidden fully
    connected layer, as in the paper's E2Enet.

    Parameters
    ----------
    n_rois : int
        Number of ROIs R; any value >= 1. Filters span whole rows, so the model
        is tied to this ROI count.
    n_outputs : int
        Output width: the number of classes (logits), or 1 for regression (the
        output then has shape (B, 1)).
    in_channels : int, default=1
        Channels C of a (B, C, R, R) input (for example several FC measures).
    e2e_channels : sequence of int, default=(32, 32)
        Filters of each Edge-to-Edge layer; may be empty.
    e2n_channels : int, default=64
        Filters of the Edge-to-Node layer.
    n2g_channels : int, default=256
        Filters of the Node-to-Graph layer.
    hidden : sequence of int, default=(128, 30)
        Widths of the fully connected layers before the output; may be empty.
    dropout : float, default=0.5
        Dropout probability (``nn.Dropout``, so inactive in eval mode).
    negative_slope : float, default=0.33
        Slope of the leaky ReLU for negative inputs (the paper's "very leaky"
        ReLU).
    generator : torch.Generator or None, default=None
        Source of the initial weights; None draws a fresh OS seed. The global
        torch RNG is never consumed.

    Attributes
    ----------
    e2e : torch.nn.ModuleList of EdgeToEdge
    e2n : EdgeToNode
    n2g : NodeToGraph
    fc : torch.nn.ModuleList of torch.nn.Linear
    out : torch.nn.Linear

    Notes
    -----
    Weights are Glorot-uniform and biases zero, as in the paper. Inputs go
    through :meth:`forward` as float tensors of shape (B, R, R) (or
    (B, C, R, R)); the diagonal is used as given.

    References
    ----------
    .. [1] Kawahara, J., Brown, C. J., Miller, S. P., Booth, B. G., Chau, V.,
       Grunau, R. E., Zwicker, J. G. and Hamarneh, G. (2017). BrainNetCNN:
       Convolutional neural networks for brain networks; towards predicting
       neurodevelopment. NeuroImage, 146, 1038-1049.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> model = BrainNetCNN(7, 2, e2e_channels=(4,), e2n_channels=8,
    ...                     n2g_channels=16, hidden=(8,), generator=g)
    >>> model.eval()(torch.randn(3, 7, 7, generator=g)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        n_rois: int,
        n_outputs: int,
        *,
        in_channels: int = 1,
        e2e_channels: Sequence[int] = (32, 32),
        e2n_channels: int = 64,
        n2g_channels: int = 256,
        hidden: Sequence[int] = (128, 30),
        dropout: float = 0.5,
        negative_slope: float = 0.33,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_rois = check_int(n_rois, "n_rois")
        self.n_outputs = check_int(n_outputs, "n_outputs")
        self.in_channels = check_int(in_channels, "in_channels")
        e2e_channels = check_int_sequence(e2e_channels, "e2e_channels")
        e2n_channels = check_int(e2n_channels, "e2n_channels")
        n2g_channels = check_int(n2g_channels, "n2g_channels")
        hidden = check_int_sequence(hidden, "hidden")
        dropout = check_probability(dropout, "dropout")
        # The initialisation idiom (sk_brainjepa.nn._init): shape-only build,
        # allocate, draw everything from `generator`.
        with torch.device("meta"):
            widths = (in_channels, *e2e_channels)
            self.e2e = nn.ModuleList(
                EdgeToEdge(c_in, c_out, n_rois)
                for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
            )
            self.e2n = EdgeToNode(widths[-1], e2n_channels, n_rois)
            self.n2g = NodeToGraph(e2n_channels, n2g_channels, n_rois)
            dims = (n2g_channels, *hidden)
            self.fc = nn.ModuleList(
                nn.Linear(d_in, d_out)
                for d_in, d_out in zip(dims[:-1], dims[1:], strict=True)
            )
            self.out = nn.Linear(dims[-1], n_outputs)
        materialize_(self)
        self.act = nn.LeakyReLU(negative_slope)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw all weights (Glorot uniform) and zero all biases.

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        generator = fresh_generator(generator)
        for layer in (*self.e2e, self.e2n, self.n2g):
            layer.reset_parameters(generator)
        for linear in (*self.fc, self.out):
            init_linear_(linear, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from FC matrices.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, n_rois, n_rois) or (B, n_rois, n_rois)
            Batch of FC matrices with C = ``in_channels`` channels; the 3-D form
            is accepted when ``in_channels=1``.

        Returns
        -------
        out : torch.Tensor of shape (B, n_outputs)
            Logits (classification) or predictions (regression).
        """
        x = check_fc_tensor(x, self.n_rois, self.in_channels)  # (B, C, R, R)
        for layer in self.e2e:
            x = self.act(layer(x))  # (B, F, R, R)
        x = self.dropout(self.act(self.e2n(x)))  # (B, F, R)
        x = self.dropout(self.act(self.n2g(x)))  # (B, G)
        for linear in self.fc:
            x = self.dropout(self.act(linear(x)))  # (B, H)
        return self.out(x)  # (B, n_outputs)
