"""The Inception-v3 of FID: TensorFlow's 2015-12-05 graph as ported to PyTorch by pytorch-fid.

FID, KID, IS and precision/recall in the literature are computed with this exact network
(pytorch-fid, torch-fidelity and clean-fid all load the same weights file). It differs from
torchvision's Inception-v3 in four places, and the numbers only agree if all four are kept:

- the average-pool branch of the A, C and first E blocks (Mixed_5b-d, 6b-e, 7b) averages over
  the real pixels only at the border (TensorFlow's SAME padding: ``count_include_pad=False``);
- the pool branch of the last E block (Mixed_7c) is a *max* pool, not an average pool;
- the classifier has 1008 outputs (the 2015 graph's label space), and there is no aux head;
- batch norm uses eps = 0.001.

Module and parameter names follow torchvision's ``Inception3`` (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch_pool.bn.running_mean``, ``fc.weight`` ...) so the published state dict loads
as is. ganforge writes the network itself because torchvision is not a dependency.

Input protocol (``PROTOCOL``): images are uint8 in [0, 255]; they are converted to float in
[0, 1], resized to 299×299 by bilinear interpolation (``F.interpolate``, ``align_corners=False``,
no antialiasing) and mapped to [-1, 1]. This is pytorch-fid's protocol; we chose it because it is
the one most PyTorch GAN papers report with, it runs batched on the GPU, and GAN images (8 to
256 px) are *up*-sampled to 299, where clean-fid's concern (aliasing when downsampling) does not
arise. FIDs computed with clean-fid's PIL-bicubic resize differ slightly and must not be mixed
with ours. Grey images are repeated to three channels.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.download import download
from ganforge.errors import DownloadError, GanforgeError
from ganforge.paths import cache_dir
from ganforge.utils import sha256_file

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILE
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"
PROTOCOL = "uint8/255, bilinear 299 (align_corners=False, no antialias), 2x-1, grey->RGB"
NUM_CLASSES = 1008
FEATURE_DIM = 2048


class InceptionWeightsMissing(GanforgeError):
    """The FID Inception weights are neither cached nor downloadable."""


class BasicConv2d(nn.Module):
    """Conv (no bias) + batch norm (eps 1e-3, TensorFlow's) + ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's SAME average pool divides by the number of real pixels under the window.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35×35 block (Mixed_5b/c/d): 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | pool→1×1; out 224 + pool_features."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], 1)


class BlockB(nn.Module):
    """Grid reduction 35→17 (Mixed_6a): stride-2 3×3 | 1×1→3×3→stride-2 3×3 | max pool; out 480 + c_in."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """17×17 block with factorised 7×7 convolutions (Mixed_6b-e); out 768."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = layer(c)
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], 1)


class BlockD(nn.Module):
    """Grid reduction 17→8 (Mixed_7a); out 512 + c_in."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8×8 block with split 1×3 / 3×1 outputs (Mixed_7b/c); out 2048.

    ``max_pool``: the 2015 graph's Mixed_7c pools with max instead of average (kept for fidelity).
    """

    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        return torch.cat([a, b, c, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 (2015-12-05 graph). ``forward(x)`` takes images already preprocessed to
    (N, 3, 299, 299) in [-1, 1] and returns (pool features (N, 2048), logits (N, 1008)).

    Use ``preprocess`` to turn uint8 images of any size into that input.
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)       # 299 -> 149
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)                # -> 147
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)     # -> 147, max pool -> 73
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)               # -> 71, max pool -> 35
        self.Mixed_5b = BlockA(192, 32)                            # (N, 256, 35, 35)
        self.Mixed_5c = BlockA(256, 64)                            # (N, 288, 35, 35)
        self.Mixed_5d = BlockA(288, 64)                            # (N, 288, 35, 35)
        self.Mixed_6a = BlockB(288)                                # (N, 768, 17, 17)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)                           # (N, 768, 17, 17)
        self.Mixed_7a = BlockD(768)                                # (N, 1280, 8, 8)
        self.Mixed_7b = BlockE(1280, max_pool=False)               # (N, 2048, 8, 8)
        self.Mixed_7c = BlockE(2048, max_pool=True)                # (N, 2048, 8, 8)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        pool = x.mean(dim=(2, 3))  # (N, 2048): the "pool_3" features of FID
        return pool, self.fc(pool)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W), C = 1 or 3 -> float (N, 3, 299, 299) in [-1, 1] by ``PROTOCOL``."""
    x = images.float() / 255.0
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (299, 299):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    return 2 * x - 1


# Without the weights a user can still measure, in a feature space ganforge fits on their own data.
OFFLINE_HINT = ("; or measure without downloads: 'ganforge features fit --data DATA --name NAME', "
                "then --features NAME")


def weights_path(path: str | os.PathLike | None = None, *, allow_download: bool = True) -> Path:
    """Where the weights are: ``path``, else ``$GANFORGE_INCEPTION_WEIGHTS``, else the cache
    (downloaded there once, SHA-256 verified). Offline without them, the error says what to fetch."""
    given = path or os.environ.get(WEIGHTS_ENV)
    if given:
        p = Path(given).expanduser()
        if not p.is_file():
            raise InceptionWeightsMissing(f"Inception weights not found at {p} (from "
                                          f"{'--inception-weights' if path else WEIGHTS_ENV})")
        return p
    cached = cache_dir("weights") / WEIGHTS_FILE
    if cached.is_file():
        return cached
    if not allow_download:
        raise InceptionWeightsMissing(_missing_message(cached))
    try:
        return download(WEIGHTS_URL, cached, sha256=WEIGHTS_SHA256, timeout=60, max_bytes=200 << 20)
    except DownloadError as e:
        raise InceptionWeightsMissing(f"{e}; or set {WEIGHTS_ENV}=/path/to/{WEIGHTS_FILE}{OFFLINE_HINT}") from None


def _missing_message(cached: Path) -> str:
    return (f"the FID Inception weights {WEIGHTS_FILE} (95.6 MB, sha256 {WEIGHTS_SHA256[:12]}...) are not available "
            f"and could not be downloaded; fetch {WEIGHTS_URL} and put it at {cached}, "
            f"or set {WEIGHTS_ENV}=/path/to/it{OFFLINE_HINT}")


def load_inception(path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                   verify: bool = True) -> FIDInceptionV3:
    """The network with the published weights, in eval mode, without gradients.

    ``verify=False`` skips the SHA-256 check (only for tests that load stand-in weights).
    """
    p = weights_path(path)
    if verify and sha256_file(p) != WEIGHTS_SHA256:
        raise InceptionWeightsMissing(f"{p} is not {WEIGHTS_FILE} (its SHA-256 differs); fetch {WEIGHTS_URL}")
    net = FIDInceptionV3()
    try:
        net.load_state_dict(torch.load(p, map_location="cpu", weights_only=True))
    except Exception as e:  # unreadable file or foreign weights: either way not the FID network
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise InceptionWeightsMissing(f"{p} does not hold the FID Inception weights ({first})") from None
    return net.to(device).eval().requires_grad_(False)
