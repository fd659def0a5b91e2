"""The RTMW3D SimCC head (mmpose ``projects/rtmpose3d`` ``RTMW3DHead``), in plain PyTorch.

It is mmpose's 2D ``RTMWHead`` plus a depth classifier ``cls_z``. Names follow upstream so
``state_dict()`` keys equal checkpoints' ``head.*`` keys. Only the configuration RTMW3D uses is built:
self-attention gated attention unit without relative position bias or rotary encoding; dropout and
drop-path are training-only and absent.

Data flow (C = in_channels, K keypoints, stride-32 map h x w, stride-16 map 2h x 2w)::

    enc_t (B, C, h, w)      -- final_layer 7x7 -> (B, K, h*w)       -- mlp  -> (B, K, hidden/2)
      | ps (PixelShuffle 2) -> (B, C/4, 2h, 2w) -- conv_dec 7x7 -> (B, C/4, 2h, 2w)
    enc_b (B, C/2, 2h, 2w) ++ that -- final_layer2 7x7 -> (B, K, 4*h*w) -- mlp2 -> (B, K, hidden/2)
    concat -> (B, K, hidden) -- gau -> cls_x / cls_y / cls_z -> SimCC logits per axis
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.cspnext import ConvModule


class ScaleNorm(nn.Module):
    """``x / max(||x||_2 / sqrt(dim), eps) * g`` over the last axis, with one learnt scalar ``g``."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Element-wise learnt scale over the last axis (parameter ``scale``, shape ``(dim,)``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class RTMCCBlock(nn.Module):
    """Gated attention unit (GAU) over keypoint tokens, mmpose's ``RTMCCBlock`` in self-attention mode.

    Input and output ``(B, K, dims)``. With ``e = dims * expansion_factor``::

        u, v, base = split(silu(uv(ScaleNorm(x))), [e, e, s])
        q, k = base * gamma[i] + beta[i]
        out = res_scale * x + o(u * (relu(q k^T / sqrt(s))^2 @ v))
    """

    def __init__(self, dims: int, s: int = 128, expansion_factor: int = 2, eps: float = 1e-5) -> None:
        super().__init__()
        self.s = s
        self.e = int(dims * expansion_factor)
        self.o = nn.Linear(self.e, dims, bias=False)
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.ln = ScaleNorm(dims, eps=eps)
        self.res_scale = Scale(dims)
        self.sqrt_s = math.sqrt(s)

    def forward(self, x: Tensor) -> Tensor:
        u, v, base = torch.split(F.silu(self.uv(self.ln(x))), [self.e, self.e, self.s], dim=-1)
        q = base * self.gamma[0] + self.beta[0]
        k = base * self.gamma[1] + self.beta[1]
        kernel = torch.square(F.relu(torch.bmm(q, k.transpose(1, 2)) / self.sqrt_s))
        return self.res_scale(x) + self.o(u * torch.bmm(kernel, v))


class RTMW3DHead(nn.Module):
    """SimCC head predicting per-keypoint 1-D logits along x, y and z.

    Args:
        in_channels: channels of the stride-32 map (the stride-16 map has half as many).
        num_keypoints: K.
        input_size: model input ``(W, H, D)`` in pixels (D: depth bins before splitting).
        in_featuremap_size: ``(W, H, D) // 32``; only W and H are used (the stride-32 map's size).
        simcc_split_ratio: SimCC bins per input pixel.
        final_layer_kernel_size: kernel of ``final_layer``, ``final_layer2`` and ``conv_dec``.
        hidden_dims, s, expansion_factor: GAU sizes.
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int = 133,
        input_size: tuple[int, int, int] = (288, 384, 288),
        in_featuremap_size: tuple[int, int, int] = (9, 12, 9),
        simcc_split_ratio: float = 2.0,
        final_layer_kernel_size: int = 7,
        hidden_dims: int = 256,
        s: int = 128,
        expansion_factor: int = 2,
    ) -> None:
        super().__init__()
        self.in_featuremap_size = tuple(in_featuremap_size)
        flatten_dims = in_featuremap_size[0] * in_featuremap_size[1]
        k, pad = final_layer_kernel_size, final_layer_kernel_size // 2
        self.ps = nn.PixelShuffle(2)
        self.conv_dec = ConvModule(in_channels // 4, in_channels // 4, k, padding=pad, act=nn.ReLU)
        self.final_layer = ConvModule(in_channels, num_keypoints, k, padding=pad, act=nn.ReLU)
        self.final_layer2 = ConvModule(in_channels // 2 + in_channels // 4, num_keypoints, k, padding=pad, act=nn.ReLU)
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims // 2, bias=False))
        self.mlp2 = nn.Sequential(
            ScaleNorm(flatten_dims * 4), nn.Linear(flatten_dims * 4, hidden_dims // 2, bias=False)
        )
        self.gau = RTMCCBlock(hidden_dims, s=s, expansion_factor=expansion_factor)
        bins_w, bins_h, bins_d = (int(n * simcc_split_ratio) for n in input_size)
        self.cls_x = nn.Linear(hidden_dims, bins_w, bias=False)
        self.cls_y = nn.Linear(hidden_dims, bins_h, bias=False)
        self.cls_z = nn.Linear(hidden_dims, bins_d, bias=False)

    def forward(self, feats: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """SimCC logits from the neck's (stride-16, stride-32) maps.

        Args:
            feats: ``enc_b (B, C/2, 2h, 2w)`` and ``enc_t (B, C, h, w)`` with ``(w, h)`` =
                ``in_featuremap_size[:2]`` (9 x 12 for a 288 x 384 input).

        Returns:
            ``simcc_x (B, K, W*r)``, ``simcc_y (B, K, H*r)``, ``simcc_z (B, K, D*r)``: raw logits
            (no softmax), ``r`` = ``simcc_split_ratio``; 576, 768, 576 bins for RTMW3D.
        """
        enc_b, enc_t = feats
        w, h = self.in_featuremap_size[:2]
        if enc_t.shape[-2:] != (h, w):
            raise ValueError(
                f"expected a stride-32 map of {h}x{w} (H x W), got {tuple(enc_t.shape[-2:])}: "
                "the head's MLP is sized for one input resolution"
            )
        feats_t = self.mlp(torch.flatten(self.final_layer(enc_t), 2))
        dec_t = self.conv_dec(self.ps(enc_t))
        feats_b = self.mlp2(torch.flatten(self.final_layer2(torch.cat((dec_t, enc_b), dim=1)), 2))
        tokens = self.gau(torch.cat((feats_t, feats_b), dim=2))
        return self.cls_x(tokens), self.cls_y(tokens), self.cls_z(tokens)
