"""Frames (T, H, W, C) uint8 -> an animated GIF (Pillow), an MP4 (imageio-ffmpeg's bundled
ffmpeg, H.264 yuv420p that browsers play) or a folder of numbered PNGs.

The format follows the path: ``.gif``, ``.mp4``, or anything else (no suffix or a
trailing slash) is a folder. Files are written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.sampling import image_grid, to_pil
from ganforge.utils import atomic_path

VIDEO_SUFFIXES = (".gif", ".mp4")


def video_kind(path: str | Path) -> str:
    """``gif``, ``mp4`` or ``frames`` (a folder of PNGs) for an output path."""
    text = str(path)
    suffix = Path(text).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return suffix[1:]
    if text.endswith(("/", "\\")) or suffix == "":
        return "frames"
    raise GanforgeError(f"cannot write video {path}: use a .gif or .mp4 file, or a folder for PNG frames")


def _check(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3) or len(frames) == 0:
        raise GanforgeError(f"video frames must be uint8 (T, H, W, 1|3), not {frames.dtype} {frames.shape}")
    return frames


def write_video(frames: np.ndarray, path: str | Path, fps: float = 24.0, loop: bool = True) -> Path:
    """Write ``frames`` uint8 (T, H, W, C) to ``path`` (.gif, .mp4 or a folder); returns the path.

    GIF: one palette for the whole video (no colour flicker between frames), every frame
    kept, looping forever unless ``loop`` is False. MP4: H.264,
    yuv420p; odd sides are padded by one edge pixel since yuv420p needs even sides.
    """
    frames = _check(frames)
    if fps <= 0:
        raise GanforgeError("fps must be positive")
    kind = video_kind(path)
    path = Path(path)
    if kind == "gif":
        _write_gif(frames, path, fps, loop)
    elif kind == "mp4":
        _write_mp4(frames, path, fps)
    else:
        path.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(frames):
            with atomic_path(path / f"frame{i:05d}.png") as tmp:
                to_pil(f).save(tmp, format="PNG")
    return path


def _write_gif(frames: np.ndarray, path: Path, fps: float, loop: bool) -> None:
    """Pillow's GIF encoder, frame by frame. ``Image.save(save_all=True)`` would merge identical
    consecutive frames (a still stretch of a morph) and pick a palette per frame; here every
    frame is written, all with one palette quantised from up to 64 frames spread over the video."""
    from PIL import GifImagePlugin, Image

    if frames.shape[-1] == 1:
        images = [Image.fromarray(f[..., 0], "L") for f in frames]  # grey: GIF's exact 256-level palette
    else:
        sample = frames[np.linspace(0, len(frames) - 1, min(len(frames), 64)).round().astype(int)]
        mosaic = Image.fromarray(np.concatenate(list(sample), axis=0), "RGB")
        palette = mosaic.quantize(256, method=Image.Quantize.MEDIANCUT)
        # No dithering: dither patterns change from frame to frame and shimmer in a morph.
        images = [Image.fromarray(f, "RGB").quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    header, _ = GifImagePlugin.getheader(images[0], info={"optimize": False})
    duration = max(1, round(1000 / fps))
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for chunk in header:
            f.write(chunk)
        if loop:  # NETSCAPE2.0 application extension: repeat forever
            f.write(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
        for im in images:
            for chunk in GifImagePlugin.getdata(im, duration=duration, disposal=1):
                f.write(chunk)
        f.write(b";")


def _write_mp4(frames: np.ndarray, path: Path, fps: float) -> None:
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        raise GanforgeError("MP4 output needs the imageio-ffmpeg package (pip install imageio-ffmpeg)") from None
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    t, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    h, w = frames.shape[1:3]
    with atomic_path(path) as tmp:
        # The temporary name has no .mp4 suffix, so the container is named explicitly.
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            macro_block_size=1, quality=None, ffmpeg_log_level="error",
            output_params=["-crf", "18", "-movflags", "+faststart", "-f", "mp4"])
        writer.send(None)  # start the ffmpeg process
        try:
            for f in frames:
                writer.send(np.ascontiguousarray(f))
        finally:
            writer.close()


def read_video(path: str | Path) -> np.ndarray:
    """Decode a GIF, MP4 or PNG-frame folder written by ``write_video`` -> uint8 (T, H, W, C)."""
    from PIL import Image, ImageSequence

    kind = video_kind(path)
    path = Path(path)
    if kind == "gif":
        with Image.open(path) as im:
            frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
        return np.stack(frames)
    if kind == "mp4":
        import imageio_ffmpeg

        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        w, h = meta["size"]
        return np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen])
    files = sorted(path.glob("frame*.png"))
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])


def grid_frames(paths: Sequence[np.ndarray], ncols: int | None = None, padding: int = 2) -> np.ndarray:
    """Several videos of equal length (each (T, H, W, C)) -> one video of their grid (T, H', W', C)."""
    paths = [_check(p) for p in paths]
    if len({p.shape for p in paths}) != 1:
        raise GanforgeError("grid videos need paths with the same number and size of frames")
    out = []
    for t in range(len(paths[0])):
        grid = np.asarray(image_grid(np.stack([p[t] for p in paths]), ncols=ncols, padding=padding))
        out.append(grid if grid.ndim == 3 else grid[..., None])
    return np.stack(out)
