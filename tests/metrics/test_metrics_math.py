"""Correctness of the metric formulas against closed forms and limiting cases (no weights needed)."""

import numpy as np
import pytest
import scipy.linalg

from ganforge.data import fashion_mnist
from ganforge.errors import DataError
from ganforge.metrics.c2st import MIN_PER_SIDE, binomial_p_value, classifier_two_sample_test
from ganforge.metrics.copying import copy_ratios
from ganforge.metrics.domain import SmallCNN
from ganforge.metrics.fid import feature_stats, fid_from_features, frechet_distance
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.intervals import clopper_pearson
from ganforge.metrics.kid import kernel_inception_distance, mmd2_unbiased
from ganforge.metrics.precision_recall import precision_recall

pytestmark = pytest.mark.usefixtures("one_thread")


def random_rotation(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


# ---- Fréchet distance ------------------------------------------------------------------------

@pytest.mark.parametrize("smallest", [1.0, 1e-6, 1e-12, 0.0])
def test_frechet_matches_closed_form_for_commuting_covariances(smallest):
    """S1 = Q D1 Q', S2 = Q D2 Q': d² = |mu1-mu2|² + sum (sqrt(d1) - sqrt(d2))², also when nearly singular."""
    rng = np.random.default_rng(0)
    d = 32
    q = random_rotation(d, rng)
    d1 = rng.uniform(0.5, 4.0, d)
    d2 = rng.uniform(0.5, 4.0, d)
    d1[: d // 2] = smallest  # half the directions (nearly) degenerate in the first Gaussian
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = (q * d1) @ q.T, (q * d2) @ q.T
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    # sqrt is infinitely ill-conditioned at 0, so exactly singular directions cost ~sqrt(eps) each.
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_frechet_matches_closed_form_for_non_commuting_2x2():
    """For 2×2, Tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) with M = S1 S2 (non-commuting here)."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
        s1, s2 = a @ a.T + 1e-3 * np.eye(2), b @ b.T + 1e-3 * np.eye(2)
        assert not np.allclose(s1 @ s2, s2 @ s1)
        m = s1 @ s2
        tr_sqrt = np.sqrt(np.trace(m) + 2 * np.sqrt(np.linalg.det(m)))
        mu1, mu2 = rng.standard_normal(2), rng.standard_normal(2)
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_frechet_agrees_with_sqrtm_when_well_conditioned():
    rng = np.random.default_rng(2)
    d = 64
    a, b = rng.standard_normal((d, 2 * d)), rng.standard_normal((d, 2 * d))
    s1, s2 = a @ a.T / d, b @ b.T / d
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_of_a_set_against_itself_is_zero_even_when_rank_deficient():
    rng = np.random.default_rng(3)
    full = rng.standard_normal((500, 64)) * rng.uniform(0.1, 10, 64)
    few = rng.standard_normal((40, 128))  # fewer samples than dimensions: singular covariance
    relu = np.maximum(rng.standard_normal((300, 96)) - 1.5, 0)  # many dead features
    for x in (full, few, relu):
        scale = np.trace(feature_stats(x)[1])
        assert fid_from_features(x, x) <= 1e-9 * scale
    assert fid_from_features(full, full + 1.0) == pytest.approx(64.0, rel=1e-9)  # a pure mean shift


def test_fid_of_samples_approaches_the_population_value():
    """Samples of N(0, I) and N(m, 4I) in 8-d: the exact value is |m|² + 8 (2 - 1)²."""
    rng = np.random.default_rng(4)
    m = np.full(8, 0.5)
    x, y = rng.standard_normal((200_000, 8)), m + 2 * rng.standard_normal((200_000, 8))
    assert fid_from_features(x, y) == pytest.approx(8 * 0.25 + 8.0, rel=0.01)


# ---- KID ---------------------------------------------------------------------------------------

def test_mmd2_unbiased_matches_the_definition():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((9, 3)) + 0.3
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(9)) / (7 * 9)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3000, 64)), rng.standard_normal((3000, 64))
    mean, std = kernel_inception_distance(a, b, subsets=50, subset_size=500)
    assert abs(mean) < 3 * std / np.sqrt(50) + 1e-3
    shifted, _ = kernel_inception_distance(a, b + 0.5, subsets=50, subset_size=500)
    assert shifted > 100 * abs(mean) and shifted > 0.01
    assert kernel_inception_distance(a[:300], b[:300])[1] > 0  # small sets: subsets still differ


def test_kid_unbiased_on_average():
    """Mean over many small independent draws of one distribution is ~0 (a biased estimator is > 0)."""
    rng = np.random.default_rng(7)
    vals = [mmd2_unbiased(rng.standard_normal((20, 16)), rng.standard_normal((20, 16))) for _ in range(400)]
    assert abs(np.mean(vals)) < 3 * np.std(vals) / np.sqrt(len(vals))


# ---- IS ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 10, 1008])
def test_inception_score_of_uniform_one_hot_is_the_number_of_classes(k):
    probs = np.eye(k)[np.arange(10 * k) % k]  # every split holds every class equally often
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0, abs=1e-9)


def test_inception_score_of_identical_predictions_is_one():
    probs = np.tile(np.random.default_rng(8).dirichlet(np.ones(10)), (100, 1))
    assert inception_score(probs)[0] == pytest.approx(1.0, abs=1e-12)


# ---- precision / recall ------------------------------------------------------------------------

def test_precision_recall_of_a_set_against_itself_is_one():
    x = np.random.default_rng(9).standard_normal((500, 32))
    assert precision_recall(x, x) == (1.0, 1.0)


def test_precision_recall_measure_fidelity_and_coverage_separately():
    rng = np.random.default_rng(10)
    real = rng.standard_normal((1000, 8))
    far = rng.standard_normal((1000, 8)) + 100
    assert precision_recall(real, far) == (0.0, 0.0)
    # Half the fakes are realistic, half far away: precision ~ 0.5; the realistic half covers most reals.
    half = np.concatenate([rng.standard_normal((500, 8)), far[:500]])
    p, r = precision_recall(real, half)
    p_realistic, r_realistic = precision_recall(real, half[:500])
    assert p == p_realistic / 2 and p_realistic > 0.8  # the far half adds no precision...
    assert r == r_realistic > 0.6                      # ...and no coverage
    # A collapsed generator: all fakes near one real point: high precision, recall near 0.
    collapsed = real[:1] + 0.001 * rng.standard_normal((1000, 8))
    p, r = precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.02


# ---- copying (memorisation) ------------------------------------------------------------------------

def brute_force_ratio(sample, real):
    d = np.linalg.norm(real - sample, axis=1)
    t = int(np.argmin(d))
    others = np.delete(real, t, axis=0)
    return d[t] / np.linalg.norm(others - real[t], axis=1).min()


def test_copy_ratios_match_their_definition_including_the_left_out_real_points():
    rng = np.random.default_rng(11)
    real, fake = rng.standard_normal((40, 5)), rng.standard_normal((30, 5))
    fake_ratio, real_ratio = copy_ratios(real, fake)
    assert fake_ratio == pytest.approx([brute_force_ratio(g, real) for g in fake], rel=1e-9)
    # each real point is judged against the others, as if it were new
    assert real_ratio == pytest.approx([brute_force_ratio(real[i], np.delete(real, i, axis=0))
                                        for i in range(len(real))], rel=1e-9)


def test_copies_read_as_copies_and_fresh_samples_as_the_data_itself():
    rng = np.random.default_rng(12)
    real = rng.standard_normal((1000, 16))
    copies = real[rng.integers(0, 1000, 2000)] + 1e-3 * rng.standard_normal((2000, 16))
    fresh = rng.standard_normal((2000, 16))
    copied, baseline = copy_ratios(real, copies)
    new, _ = copy_ratios(real, fresh)
    assert np.median(copied) < 0.01 and np.mean(copied < 1 / 3) == 1.0
    # samples from the data's distribution score like the real points left out, and copy nothing
    assert np.median(new) == pytest.approx(np.median(baseline), rel=0.1)
    assert np.mean(new < 1 / 3) < 0.01
    # duplicated real points (distance 0 apart) do not divide by zero; a copy of one still reads as a copy
    dup = np.concatenate([real, real[:10]])
    ratio, real_ratio = copy_ratios(dup, real[:10])
    assert np.isfinite(real_ratio).all() and (ratio < 0.01).all()


# ---- two-sample test ---------------------------------------------------------------------------

def test_binomial_p_value():
    assert binomial_p_value(50, 100) == pytest.approx(0.5398, abs=1e-4)
    assert binomial_p_value(100, 100) == pytest.approx(0.5 ** 100)
    assert binomial_p_value(0, 100) == 1.0


def _noise_images(rng, n, mean):
    return np.clip(rng.normal(mean, 40, (n, 16, 16, 1)), 0, 255).astype(np.uint8)


def test_c2st_near_half_on_one_distribution_and_near_one_on_different():
    rng = np.random.default_rng(11)
    same = classifier_two_sample_test(_noise_images(rng, 400, 128), _noise_images(rng, 400, 128), epochs=4)
    assert 0.40 <= same["accuracy"] <= 0.60 and same["p_value"] > 0.001
    diff = classifier_two_sample_test(_noise_images(rng, 400, 128), _noise_images(rng, 400, 100), epochs=4)
    assert diff["accuracy"] >= 0.95 and diff["p_value"] < 1e-20
    assert same["n_test"] == diff["n_test"] == 400


def garments(n: int, rng) -> np.ndarray:
    """n Fashion-MNIST test images (N, 28, 28, 1); synthetic ones (a bright shape on black) without it."""
    try:
        images = fashion_mnist.load("test", allow_download=False)[0]
        return images[rng.choice(len(images), n, replace=False)][..., None]
    except DataError:
        yy, xx = np.mgrid[:28, :28]
        out = np.zeros((n, 28, 28, 1), np.uint8)
        for im, (cy, cx, ry, rx, v) in zip(out, zip(*(rng.uniform(lo, hi, n) for lo, hi in
                                                      ((10, 18), (10, 18), (5, 12), (4, 10), (90, 250))))):
            im[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = int(v)
        return out


@pytest.mark.parametrize("n", [MIN_PER_SIDE, 200])
def test_c2st_tells_garments_from_uniform_noise_at_small_n(n):
    """The probe's case: Fashion-MNIST vs uniform noise at 200 per side gave accuracy 0.500, p 0.53."""
    rng = np.random.default_rng(0)
    real = garments(n, rng)
    r = classifier_two_sample_test(real, rng.integers(0, 256, real.shape, dtype=np.uint8))
    assert r["accuracy"] >= 0.9 and r["p_value"] < 1e-3, r


def test_c2st_shows_progress_and_trains_a_small_classifier(monkeypatch):
    """evaluate --metrics c2st --n 2000 took 8 minutes: nearly all of it training the classifier on 64 px
    images. Its work per image (counted, not timed) is a quarter of what it was, and it reports progress."""
    import io

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ganforge.metrics import c2st

    nets = []
    monkeypatch.setattr(c2st, "SmallCNN", lambda *args, **kw: nets.append(SmallCNN(*args, **kw)) or nets[-1])
    rng = np.random.default_rng(0)
    log = io.StringIO()
    classifier_two_sample_test(rng.integers(0, 256, (MIN_PER_SIDE, 64, 64, 3), dtype=np.uint8),
                               rng.integers(0, 128, (MIN_PER_SIDE, 64, 64, 3), dtype=np.uint8), log=log)
    lines = log.getvalue().splitlines()
    # the shared progress display (ganforge.progress.Task): the first step, then a line per interval and the last
    assert len(lines) >= 2 and all(line.strip().startswith("c2st: ") for line in lines), lines
    assert lines[0].startswith("c2st: 1/") and "steps/s" in lines[-1] and "ETA" in lines[-1], lines
    with FlopCounterMode(display=False) as flops:
        nets[0](torch.zeros(1, 3, 64, 64))
    assert flops.get_total_flops() < 25e6  # was 80 MFLOP per 64 px image (width 16)


def test_c2st_refuses_sets_too_small_to_decide():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=f"at least {MIN_PER_SIDE} images per set"):
        classifier_two_sample_test(_noise_images(rng, MIN_PER_SIDE - 1, 128), _noise_images(rng, 50, 0))


# ---- intervals of rates ------------------------------------------------------------------------

def test_clopper_pearson_interval():
    assert clopper_pearson(0, 0) is None
    lo, hi = clopper_pearson(4, 4)  # unanimity at small n is not certainty
    assert lo == pytest.approx(0.3976, abs=1e-4) and hi == 1.0
    assert clopper_pearson(0, 4) == pytest.approx((0.0, 1 - lo))  # symmetric in successes and failures
    lo, hi = clopper_pearson(120, 400)
    assert lo < 0.3 < hi and 0.08 < hi - lo < 0.10  # about ±1.96·sqrt(.21/400) = ±0.045
    # Coverage: the exact interval holds the true rate at least 95 % of the time, even at n = 6.
    rng = np.random.default_rng(0)
    for p in (0.1, 0.5, 0.9):
        hits = [lo <= p <= hi for lo, hi in (clopper_pearson(int(k), 6) for k in rng.binomial(6, p, 2000))]
        assert np.mean(hits) >= 0.95
    with pytest.raises(ValueError):
        clopper_pearson(5, 4)
