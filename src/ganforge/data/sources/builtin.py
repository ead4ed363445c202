"""Offline built-in sources: Fashion-MNIST, scikit-learn's digits and colour emoji rendered from an installed font.

``fashion-mnist[:train|test|all]``: the 70,000 28×28 grey garments (``ganforge.data.fashion_mnist`` finds
or downloads the files), each padded with black to 32×32 (``:28`` keeps them at 28×28); labels are the 10
garment classes.

``mnist[:train|test|all]``: the 70,000 28×28 handwritten digits (``ganforge.data.mnist``), kept at
28×28 (the cats thesis's size); labels 0–9.

``digits``: the 1,797 8×8 handwritten digits bundled inside scikit-learn (no download),
upscaled to 32×32; labels 0–9. A tiny, fully offline data set for tests and demos.

``emoji``: faces, people and animals from Noto Color Emoji, chosen by the groups of
Unicode's ``emoji-test.txt`` (Debian: ``fonts-noto-color-emoji`` and ``unicode-data``).
About 2,400 images, 600 without skin-tone variants (``emoji:noskin``); each is an RGBA
sprite, so prepare composites it on ``--background`` or keeps the alpha (``--channels 4``).
``emoji:all`` is every fully-qualified emoji (the skin-tone and hair swatches are "component"
rows, not emoji), labelled by Unicode group (``food-drink``, ``objects``, ...); ``:subgroups``
labels any selection by Unicode subgroup instead (``animal-mammal``, ``food-fruit``, ...: 99
classes with ``all:noskin``). Flat-coloured drawings with outlines on a clear ground, labelled: the data
to fit a feature extractor that judges art on white backgrounds (Pokémon, icons), a second judge
beside one fitted on photos (CIFAR-10).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganforge.data import fashion_mnist, mnist
from ganforge.data.decode import UnusableImage
from ganforge.data.sources.base import Item, Source
from ganforge.errors import DataError

EMOJI_FONTS = [
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/System/Library/Fonts/Apple Color Emoji.ttc",
]
EMOJI_TEST = ["/usr/share/unicode/emoji/emoji-test.txt", "/usr/share/unicode-data/emoji/emoji-test.txt"]
EMOJI_SIZE = 109          # the one size at which the bitmap font Noto Color Emoji renders (136×128 glyphs)
SKIN_TONES = {0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF}
EMOJI_GROUPS = ("faces", "people", "animals")


class _IdxSource(Source):
    """An MNIST-style set (``module.load``, ``module.CLASSES``), each 28×28 image padded with black by ``pad``."""

    module: ModuleType
    name = ""
    pad = 0

    def __init__(self, argument: str = "", labels: str | None = None, **_):
        super().__init__(description=self.name)
        words = [w for w in argument.split(":") if w]
        if "28" in words:  # the native size, unpadded (the cats thesis's 28 px), whatever the source's default
            words.remove("28")
            self.pad, self.default_resolution = 0, 28
        split = words[0] if words else "all"
        if split not in ("train", "test", "all") or len(words) > 1:
            raise DataError(f"{self.name} takes [:train|:test|:all][:28], not {argument!r}")
        self.images, self.labels = self.module.load(split)
        self.classes = self.module.CLASSES
        self.items = [Item(f"{split}/{i:05d}", self.classes[int(c)]) for i, c in enumerate(self.labels)]

    def load(self, item: Item) -> Image.Image:
        index = int(item.key.rsplit("/", 1)[1])
        return Image.fromarray(np.pad(self.images[index], self.pad) if self.pad else self.images[index], "L")


class FashionMnistSource(_IdxSource):
    """Fashion-MNIST, each 28×28 image padded with black to 32×32 (the DCGAN-on-MNIST convention), with class labels."""

    default_resolution, default_channels = 32, 1
    module, name, pad = fashion_mnist, "fashion-mnist", 2


class MnistSource(_IdxSource):
    """MNIST digits at their own 28×28 (dcgan, mlp and upconv train at 28 px from a 7×7 base), labels 0-9."""

    default_resolution, default_channels = 28, 1
    module, name, pad = mnist, "mnist", 0


def _idx_available(module: ModuleType, hint: str) -> str | None:
    try:
        module.find_files(allow_download=False)
    except DataError:
        return f"not installed here; downloaded on first use ({hint})"
    return None


def fashion_mnist_available() -> str | None:
    return _idx_available(fashion_mnist, "or: apt-get install dataset-fashion-mnist")


def mnist_available() -> str | None:
    return _idx_available(mnist, "or put the four IDX .gz files in a folder named by GANFORGE_MNIST")


def digits_available() -> str | None:
    try:
        import sklearn  # noqa: F401  (late: optional, and slow to import)
    except ImportError:
        return "needs scikit-learn: pip install scikit-learn"
    return None


class DigitsSource(Source):
    """scikit-learn's 1,797 handwritten digits (UCI optdigits test set), 8×8 in 17 grey levels."""

    default_resolution, default_channels = 32, 1

    def __init__(self, argument: str = "", labels: str | None = None, **_):
        problem = digits_available()
        if problem:
            raise DataError(f"digits: {problem}")
        from sklearn.datasets import load_digits  # late: optional, and slow to import

        super().__init__(description="digits (scikit-learn)")
        bunch = load_digits()
        # 0..16 -> 0..255; digits are dark-on-light in the originals' convention of ink = high.
        self.images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
        self.items = [Item(f"{i:04d}", str(int(t))) for i, t in enumerate(bunch.target)]

    def load(self, item: Item) -> Image.Image:
        img = Image.fromarray(self.images[int(item.key)], "L")
        return img.resize((32, 32), Image.Resampling.BICUBIC)  # smooth strokes, not 4×4 blocks


def _first(paths: list[str], env: str) -> str | None:
    for p in [os.environ.get(env)] + paths:
        if p and Path(p).is_file():
            return p
    return None


def emoji_available() -> str | None:
    if _first(EMOJI_FONTS, "GANFORGE_EMOJI_FONT") is None:
        return "needs a colour emoji font: apt-get install fonts-noto-color-emoji (or set GANFORGE_EMOJI_FONT)"
    if _first(EMOJI_TEST, "GANFORGE_EMOJI_TEST") is None:
        return "needs Unicode's emoji-test.txt: apt-get install unicode-data (or set GANFORGE_EMOJI_TEST)"
    return None


def parse_emoji_test(path: str) -> list[tuple[str, str, str, str]]:
    """Fully-qualified emoji of ``emoji-test.txt``: (code points 'hex hex', group, subgroup, name)."""
    rows = []
    group = subgroup = ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#") and ";" in line:
            codes, rest = line.split(";", 1)
            status, _, comment = rest.partition("#")
            if status.strip() == "fully-qualified":
                name = comment.strip().split(" ", 2)[-1] if comment.strip() else ""
                rows.append((" ".join(codes.split()), group, subgroup, name))
    return rows


def unicode_slug(name: str) -> str:
    """``"Food & Drink"`` -> ``"food-drink"``: a Unicode group's name as a class name."""
    return "-".join(name.lower().replace("&", " ").split())


def emoji_group(group: str, subgroup: str) -> str | None:
    """Our class of an emoji: faces, people, animals, or None (not an avatar)."""
    if group == "Smileys & Emotion" and (subgroup.startswith("face-") or subgroup in ("cat-face", "monkey-face")):
        return "faces"
    if group == "People & Body":
        return "people"
    if group == "Animals & Nature" and subgroup.startswith("animal-"):
        return "animals"
    return None


class EmojiSource(Source):
    """``emoji[:faces,people,animals|:all][:noskin][:subgroups]``: colour emoji as RGBA sprites, labelled by group
    (ours for faces/people/animals, Unicode's for ``all``) or, with ``subgroups``, by Unicode subgroup."""

    default_resolution, default_channels = 64, 3

    def __init__(self, argument: str = "", labels: str | None = None, **_):
        problem = emoji_available()
        if problem:
            raise DataError(f"emoji: {problem}")
        super().__init__(description="emoji (Noto Color Emoji)")
        words = {w.strip() for part in argument.split(":") for w in part.split(",") if w.strip()}
        noskin, by_subgroup, every = "noskin" in words, "subgroups" in words, "all" in words
        wanted = (words - {"noskin", "subgroups", "all"}) or set(EMOJI_GROUPS)
        unknown = wanted - set(EMOJI_GROUPS)
        if unknown:
            raise DataError(f"emoji: unknown group {', '.join(sorted(unknown))} (groups: {', '.join(EMOJI_GROUPS)} "
                            "or all; add :noskin to drop skin tones, :subgroups to label by Unicode subgroup)")
        if every and words & set(EMOJI_GROUPS):
            raise DataError(f"emoji: 'all' already holds {', '.join(sorted(words & set(EMOJI_GROUPS)))}; "
                            "give one or the other")
        font_path, test_path = _first(EMOJI_FONTS, "GANFORGE_EMOJI_FONT"), _first(EMOJI_TEST, "GANFORGE_EMOJI_TEST")
        assert font_path is not None and test_path is not None  # emoji_available() said so
        self.font_path: str = font_path
        self.names: dict[str, str] = {}
        for codes, group, subgroup, name in parse_emoji_test(test_path):
            ours = unicode_slug(group) if every else emoji_group(group, subgroup)
            if not every and ours not in wanted:
                continue
            if noskin and any(int(c, 16) in SKIN_TONES for c in codes.split()):
                continue
            self.names[codes] = name
            self.items.append(Item(codes, subgroup if by_subgroup else ours))
        self._font: ImageFont.FreeTypeFont | None = None

    def load(self, item: Item) -> Image.Image:
        if self._font is None:
            self._font = ImageFont.truetype(self.font_path, EMOJI_SIZE)
        text = "".join(chr(int(c, 16)) for c in item.key.split())
        # A canvas 3 glyphs wide: a sequence the font cannot join draws as several glyphs, which we refuse.
        canvas = Image.new("RGBA", (3 * 136, 160), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((8, 8), text, font=self._font, embedded_color=True)
        box = canvas.getbbox()
        if box is None:
            raise UnusableImage("the font has no glyph for it")
        if box[2] - box[0] > 160:
            raise UnusableImage("the font draws it as several glyphs")
        return canvas.crop((8, 8, 8 + 136, 8 + 128))

    def provenance(self, item: Item) -> dict:
        return {"emoji": "".join(chr(int(c, 16)) for c in item.key.split()), "name": self.names.get(item.key),
                "licence": "OFL-1.1 (Noto Color Emoji)"}

    def __getstate__(self):  # fonts do not cross process boundaries
        state = self.__dict__.copy()
        state["_font"] = None
        return state
