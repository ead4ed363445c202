"""Class preservation of a translation (issue 16 point 5): does a classifier of the source domain's own
classes still recognise a translated image's class?

For a direction X -> Y whose source domain X carries class labels (a two-domain set prepared with
``--labels subfolders``, or from a labelled built-in source), on the evaluation's source images:

- ``class_kept/x2y``: the fraction of translated images the classifier assigns their source image's class;
- ``class_kept/x_vs_y``: the same on the untranslated sources, the classifier's own accuracy there: the most
  a translation can keep. A translator that keeps the class stays near it; one that destroys it falls to
  the share of the class the classifier then answers (about 1/K for K balanced classes).

The classifier is the one ``evaluate --classifier`` names (made by ``ganforge features fit --data SET
--domain X``, or any extractor file whose class names are X's), or, when none is given or it knows none of
X's classes, one fitted here the same way (``fit_extractor(..., domain=X)``) and kept in the cache under
the data set's SHA-256, so a second evaluation reuses it. A classifier fitted here has seen 90 % of X's
images in training, so ``class_kept/x_vs_y`` is then optimistic; the held-out accuracy is in its file.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.data.dataset import Dataset
from ganforge.metrics.domain import fit_extractor
from ganforge.metrics.features import FeatureExtractor, load_extractor
from ganforge.paths import cache_dir

FIT_MIN_STEPS = 100  # a source domain of a few hundred images gives a few steps per epoch
FIT_STOP_LOSS = 0.05


def labelled_classes(data: Dataset, d: int) -> int:
    """How many classes domain ``d``'s images carry."""
    if data.labels is None:
        return 0
    labels = data.labels[data.domain_indices(d)]
    return len(set(labels[labels >= 0].tolist()))


def class_targets(classifier: FeatureExtractor, data: Dataset, labels: np.ndarray) -> np.ndarray:
    """The classifier's class index of each data-set label id (-1: unlabelled, or a class it does not know)."""
    known = list(classifier.classes or [])
    names = data.classes or []
    return np.array([known.index(names[k]) if 0 <= k < len(names) and names[k] in known else -1 for k in labels],
                    dtype=np.int64)


def source_classifier(data: Dataset, d: int, spec: str | None, device: torch.device | str,
                      log=None) -> tuple[FeatureExtractor, bool] | None:
    """(a classifier of domain ``d``'s classes, whether it was fitted here), or None when ``d`` has no classes.

    ``spec``: the user's classifier (a name or file, as ``--features`` takes); used when it knows at least
    one of ``d``'s classes."""
    if data.labels is None or not data.domains or labelled_classes(data, d) < 2:
        return None
    key = str(data.domains[d]["key"])
    if spec:
        given = load_extractor(spec, device)
        if (class_targets(given, data, data.labels[data.domain_indices(d)]) >= 0).any():
            return given, False
        log and print(f"ganforge: {given.name} knows none of domain {key}'s classes; fitting one",
                      file=log, flush=True)
    name = f"{data.path.stem}-{key}-classes"
    out = cache_dir("extractors") / f"{name}-{data.sha256[:12]}.pt"
    if not out.is_file():
        fit_extractor(data.path, out, name=name, domain=key, device=str(device), min_steps=FIT_MIN_STEPS,
                      stop_loss=FIT_STOP_LOSS, log=log)
    return load_extractor(str(out), device), True


def class_kept(classifier: FeatureExtractor, images: np.ndarray, targets: np.ndarray) -> float | None:
    """The fraction of uint8 ``images`` (N, H, W, C) the classifier assigns ``targets`` (its class indices;
    -1 skipped), or None when no image has a target."""
    mask = targets >= 0
    if not mask.any():
        return None
    _, probs = classifier.extract(np.ascontiguousarray(images[mask]))
    return float((probs.argmax(1) == targets[mask]).mean())
