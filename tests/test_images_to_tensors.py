"""Images (uint8 arrays, a data set's read-only memory map among them) into tensors: one rule, no warnings."""

import numpy as np
import pytest
import torch

from ganforge.data.dataset import load_dataset
from ganforge.sampling import first_examples, from_uint8, to_uint8, writable_tensor


@pytest.fixture
def strict_from_numpy(monkeypatch):
    """torch.from_numpy that refuses a read-only array, as torch itself only warns (and only once per
    process, so a warning cannot be tested for reliably): every code path below must copy one first."""
    real = torch.from_numpy

    def strict(array):
        assert array.flags.writeable, "torch.from_numpy given a read-only array"
        return real(array)

    monkeypatch.setattr(torch, "from_numpy", strict)


def test_from_uint8_inverts_to_uint8_and_shares_only_writable_arrays():
    images = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    x = from_uint8(images)
    assert x.shape == (3, 3, 5, 7) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert np.array_equal(to_uint8(x), images)

    shared = writable_tensor(images)
    images[0, 0, 0, 0] ^= 0xFF
    assert int(shared[0, 0, 0, 0]) == images[0, 0, 0, 0]  # a writable array is shared, not copied

    frozen = images.copy()
    frozen.flags.writeable = False
    copied = writable_tensor(frozen[:, ::2])  # read-only and not contiguous
    assert np.array_equal(copied.numpy(), frozen[:, ::2])
    copied[0, 0, 0, 0] += 1  # the copy is writable; the array is untouched
    assert int(copied[0, 0, 0, 0]) != frozen[0, 0, 0, 0]


def test_a_data_sets_memory_map_reaches_every_reader_as_a_copy(strict_from_numpy, tiny_rgb32):
    from ganforge.metrics.d_accuracy import discriminator_accuracy
    from ganforge.metrics.domain import SmallCNN, predict, recalibrate_batch_norm
    from ganforge.metrics.features import DomainExtractor

    data = load_dataset(tiny_rgb32)
    assert not data.images.flags.writeable  # the memory map this test is about
    assert first_examples(data, 4).shape == (4, 3, 32, 32)

    net = SmallCNN(3, 2, width=4, feature_dim=8).eval()
    feats, logits = predict(net, data.images, batch_size=16)
    assert feats.shape == (len(data), 8) and logits.shape == (len(data), 2)
    recalibrate_batch_norm(net, data.images, batch_size=16)
    extractor = DomainExtractor("t", "t:0", "uint8/127.5-1, native size", net.eval(), torch.device("cpu"),
                                batch_size=16)
    assert extractor.extract(data.images)[0].shape == (len(data), 8)

    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 1))
    assert 0 <= discriminator_accuracy(D, data.images, data.images[:8], batch_size=16) <= 1
