"""Device and precision: what runs fastest and still trains correctly on this machine.

On CPU the default is channels_last memory format for convolutional models, with
bfloat16 autocast only where the processor has AMX tiles (Intel Sapphire Rapids and
later, when the hypervisor exposes them). Measured with benchmarks/train_throughput.py
on a 2-core AVX-512 machine without AMX: channels_last float32 1.1-1.2× over plain
float32, bfloat16 autocast 0.76× (oneDNN's AVX512-BF16 kernels, notably weight
gradients, are slower than its float32 ones) and float16 autocast far slower still
(oneDNN has no fast float16 weight-gradient kernel there and falls back to a reference
one: 24-30 s for a convolution that float32 does in 20 ms). Without AMX, float32 is
the fastest arithmetic such a CPU has: a 2048² matrix product ran at 270 GFLOP/s in
float32, 255 in float16 and 145 in bfloat16, and a DCGAN-64 step (159 GFLOP) already
reaches about half of that float32 rate.
On CUDA: bfloat16 autocast where the GPU supports it, else float16 with a gradient
scaler per optimiser. Everywhere: Adam fused into one kernel per step where the installed
torch has one for the device (CPU since torch 2.4): the per-parameter optimiser ops were
~8 % of a DCGAN-64 CPU step.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch

from ganforge.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but PyTorch sees no CUDA GPU here; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu or cuda[:N]")
    return device


def cpu_has_amx() -> bool:
    """True where the CPU advertises AMX-BF16 tiles, which make bf16 convolutions several times faster."""
    try:
        with open("/proc/cpuinfo") as f:
            return any("amx_bf16" in line for line in f if line.startswith("flags"))
    except OSError:  # not Linux: no way to tell cheaply, and float32 is never wrong
        return False


def flushing_denormals() -> bool:
    """Whether this thread computes denormal floats as zero now (read by computing one: torch has no getter)."""
    return float((torch.tensor([1e-39], dtype=torch.float32) * 1.0).item()) == 0.0


@contextlib.contextmanager
def denormals_flushed():
    """Compute float32 values below 1.2e-38 (denormals) as zero on the CPU while inside: flush-to-zero and
    denormals-are-zero; then this thread's setting as it was.

    Why: x86 arithmetic on denormal floats is 10-100x slower than on normal ones, and GAN training can make
    them once D saturates (squares of tiny gradients in Adam's second moments, activations near zero). A
    two-thread DCGAN A/B on Fashion-MNIST ran a flat ~220 ms per step with it and rose to ~320 ms without;
    a one-thread one showed no difference, so this is a guard, not a cure for every slowdown. Zero is as
    good as 1e-40 for training, and CUDA is untouched.

    The CPU keeps the flag per thread, and a new thread copies it from the thread that starts it, so the
    training commands enter this before they touch any tensor: torch's worker threads, started inside,
    inherit it. ``train()`` enters it too, which reaches at least the calling thread when a library user
    has run torch code before. Restoring the setting afterwards matters in a long-lived process: other
    code (hypothesis, numerical tests) relies on IEEE denormals on the thread that called us.
    """
    was = flushing_denormals()
    torch.set_flush_denormal(True)  # False where the CPU has no such mode (not x86 SSE3 / ARM): nothing to do
    try:
        yield
    finally:
        torch.set_flush_denormal(was)


@dataclass
class Runtime:
    """How tensors are computed: device, autocast dtype (None = float32), memory format."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    fused_adam: bool = False

    def adam(self, params, **kwargs) -> torch.optim.Adam:
        """Adam, fused into one kernel per step when ``fused_adam`` (same update, fewer passes over memory)."""
        return torch.optim.Adam(params, fused=True, **kwargs) if self.fused_adam else torch.optim.Adam(params, **kwargs)

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @property
    def needs_grad_scaler(self) -> bool:
        return self.amp_dtype == torch.float16

    def describe(self) -> str:
        dtype = {None: "float32", torch.bfloat16: "bfloat16 autocast",
                 torch.float16: "float16 autocast"}[self.amp_dtype]
        return f"{self.device} {dtype}{', channels_last' if self.channels_last else ''}"


@functools.cache
def fused_adam_works(device_type: str) -> bool:
    """Whether this torch has a fused Adam for the device (CUDA since 2.0, CPU since 2.4): one probe step."""
    try:
        p = torch.zeros(2, device=device_type, requires_grad=True)
        p.grad = torch.ones_like(p)
        torch.optim.Adam([p], fused=True).step()
        return True
    except (RuntimeError, TypeError, ValueError):
        return False


def resolve_runtime(device: str = "auto", precision: str = "auto", channels_last: str = "auto",
                    convolutional: bool = True, fused_adam: str = "auto") -> Runtime:
    dev = resolve_device(device)
    if precision == "auto":
        if dev.type == "cuda":
            amp: torch.dtype | None = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            amp = torch.bfloat16 if cpu_has_amx() else None
    else:
        amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if dev.type == "cpu" and amp == torch.float16:
        raise ConfigError("float16 autocast is for CUDA; on CPU use --precision bf16 or fp32")
    cl = convolutional if channels_last == "auto" else channels_last == "on"
    fused = fused_adam != "off" and fused_adam_works(dev.type)
    if fused_adam == "on" and not fused:
        raise ConfigError(f"this torch ({torch.__version__}) has no fused Adam for {dev.type}; "
                          "use --fused-adam auto or off")
    return Runtime(dev, amp, cl, fused)
