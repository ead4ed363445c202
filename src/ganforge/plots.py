"""Loss curves as PNG, drawn with matplotlib's file-only backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.utils import atomic_path


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_losses(records: list[dict], out: str | Path, title: str = "") -> None:
    """Two panels: G and D losses (raw, faint, and smoothed) and D's mean outputs on real/fake."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in records])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    window = max(1, len(records) // 100)
    # f_loss: a DTN's encoder fitting; cycle: CycleGAN's cycle-consistency term
    for key, color in (("d_loss", "tab:blue"), ("g_loss", "tab:orange"), ("f_loss", "tab:purple"),
                       ("cycle", "tab:brown")):
        vals = np.array([r.get(key, np.nan) for r in records], dtype=float)
        if len(vals) and np.isfinite(vals).any():
            ax1.plot(steps, vals, color=color, alpha=0.2, linewidth=0.6)
            ax1.plot(steps[window - 1 :] if window > 1 and len(vals) >= window else steps,
                     smooth(vals, window), color=color, label=key)
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    if ax1.get_legend_handles_labels()[0]:
        ax1.legend()
    ax1.set_title(title or "losses")
    low = -0.02
    # ADA (--augment ada): its probability p and its overfitting statistic r_t = E[sign(D(real))]
    for key, color in (("d_real", "tab:green"), ("d_fake", "tab:red"), ("d_acc", "tab:gray"),
                       ("ada_p", "tab:purple"), ("ada_rt", "tab:olive")):
        vals = np.array([r.get(key, np.nan) if r.get(key) is not None else np.nan for r in records], dtype=float)
        if len(vals) and np.isfinite(vals).any():
            shown = smooth(vals, window)
            ax2.plot(steps[window - 1 :] if window > 1 and len(vals) >= window else steps,
                     shown, color=color, label=key)
            low = min(low, float(np.nanmin(shown)) - 0.02)
    ax2.set_xlabel("step")
    ax2.set_ylim(max(low, -1.02), 1.02)
    ax2.set_title("discriminator (training diagnostic)")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
