"""Feature extractors behind one interface: Inception-v3 (standard) and domain CNNs (no download).

``load_extractor("inception" | NAME | PATH)`` returns a ``FeatureExtractor`` whose
``extract(images)`` turns uint8 (N, H, W, C) images into features (N, F) and class
probabilities (N, K). ``name`` goes into every metric key (``fid[inception]``,
``fid[fashion-mnist-cnn]``); ``identity`` and ``protocol`` key the reference-statistics cache.

Extraction runs in float32 with TF32 switched off on CUDA: TF32 convolutions shift Inception
features enough to move FID in the first decimal.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from ganforge.metrics import domain, inception
from ganforge.progress import Task
from ganforge.sampling import writable_tensor
from ganforge.utils import sha256_file


@contextlib.contextmanager
def exact_float32():
    """Turn TF32 off for the block (it is a per-process switch, so restore it afterwards)."""
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@dataclass
class FeatureExtractor:
    name: str                 # shown in metric keys: fid[<name>]
    identity: str             # what makes two extractors the same: its file's SHA-256 (weights, classes, data)
    protocol: str             # how images are fed to it
    net: torch.nn.Module
    device: torch.device
    batch_size: int = 64
    resolution: int | None = None  # required input side (None: any)
    channels: int | None = None    # required channels (None: 1 or 3)
    classes: list | None = None    # names of the classes its probabilities are over (fitted extractors)

    def check(self, images: np.ndarray, what: str = "images") -> None:
        """Raise ExtractorError when ``images`` (N, H, W, C) cannot go through this extractor."""
        if images.ndim != 4 or images.dtype != np.uint8:
            raise domain.ExtractorError(f"{what}: expected uint8 images (N, H, W, C), "
                                        f"got {images.dtype} {images.shape}")
        n, h, w, c = images.shape
        if c not in (1, 3):
            raise domain.ExtractorError(f"{what} have {c} channels; 1 or 3 are supported")
        if self.resolution and (h, w) != (self.resolution, self.resolution):
            raise domain.ExtractorError(
                f"{what} are {w}x{h} but the extractor {self.name} was trained on {self.resolution}x{self.resolution}; "
                f"fit one at this size (ganforge features fit --data DATASET) or use --features inception")
        if self.channels and c != self.channels:
            raise domain.ExtractorError(f"{what} have {c} channel(s) but the extractor {self.name} takes "
                                        f"{self.channels}")

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def extract(self, images: np.ndarray, log=None) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, H, W, C) -> (features (N, F) float32, class probabilities (N, K) float32).
        ``log``: a stream for a progress line (None: quiet)."""
        self.check(images)
        feats, probs = [], []
        shown = Task(f"{self.name} features", len(images), "images", stream=log, enabled=log is not None)
        with exact_float32(), shown:
            for i in range(0, len(images), self.batch_size):
                x = writable_tensor(images[i:i + self.batch_size]).to(self.device)
                f, logits = self._forward(x.permute(0, 3, 1, 2))
                feats.append(f.float().cpu())
                probs.append(torch.softmax(logits.float(), dim=1).cpu())
                shown.advance(len(x))
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()


class InceptionExtractor(FeatureExtractor):
    """2048-d pool features for FID/KID/PR; for IS, the softmax of the 1008 logits *without* the
    fc bias, as the original Inception Score code (Salimans et al. 2016) and torch-fidelity do."""

    def _forward(self, x):
        pool, _ = self.net(inception.preprocess(x))
        return pool, pool @ self.net.fc.weight.T


class DomainExtractor(FeatureExtractor):
    """Penultimate ReLU features of a SmallCNN and its class logits."""

    def _forward(self, x):
        return self.net(domain.to_input(x))


def load_extractor(spec: str = "inception", device: str | torch.device = "cpu",
                   inception_weights: str | None = None, batch_size: int | None = None) -> FeatureExtractor:
    """``inception``, the name of an extractor saved by ``ganforge features fit``, or a path to one."""
    device = torch.device(device)
    if spec == "inception":
        net = inception.load_inception(inception_weights, device)
        return InceptionExtractor("inception", f"inception-2015-12-05:{inception.WEIGHTS_SHA256}", inception.PROTOCOL,
                                  net, device, batch_size or 50)
    path = domain.find_extractor_file(spec)
    state = domain.load_extractor_file(path)
    small = domain.build_from_state(state).to(device)
    arch = state["arch"]
    return DomainExtractor(state["name"], f"{state['name']}:{sha256_file(path)}", "uint8/127.5-1, native size", small,
                           device, batch_size or 256, resolution=arch["resolution"], channels=arch["channels"],
                           classes=state.get("classes"))
