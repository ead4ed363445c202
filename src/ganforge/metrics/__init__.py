"""Image-quality metrics: one file per metric, registered by name; feature extractors; cached
reference statistics; evaluation of runs and folders; training hooks; comparison reports.

Metric keys name what they were computed on: ``fid[inception]`` is the standard FID
(Inception-v3 of the 2015 TensorFlow graph, pytorch-fid's resize protocol);
``fid[fashion-mnist-cnn]`` uses a domain classifier's features and is comparable only with
numbers from the same extractor file; ``c2st_acc[pixels]`` is a two-sample test;
``d_acc[diagnostic]`` is a training diagnostic, not a quality measure.

Public functions (``from ganforge.metrics.<module> import <function>``)::

    fid: frechet_distance(mu1, s1, mu2, s2), feature_stats(x), fid_from_features(real, fake)
    kid: kernel_inception_distance(real, fake) -> (mean, std), mmd2_unbiased(x, y)
    inception_score: inception_score(probs, splits=10) -> (mean, std)
    precision_recall: precision_recall(real, fake, k=3) -> (precision, recall)
    copying: copy_ratios(real, fake) -> (generated ratios, leave-one-out real ratios), the memorisation check
    c2st: classifier_two_sample_test(a_images, b_images) -> {"accuracy", "p_value", ...}
    d_accuracy: discriminator_accuracy(D, real_images, fake_images)
    intervals: clopper_pearson(successes, n) -> (lower, upper), the exact interval of a rate
    features: load_extractor("inception" | NAME | PATH); domain: fit_extractor(data, ...)
    inception: FIDInceptionV3, load_inception(path), preprocess(uint8 images)
    reference: reference_features(dataset, extractor, n)
    evaluate: evaluate_images(fake, dataset, metrics, extractor=...), evaluate_run(run, ...),
              evaluate_folder(folder, data, ...), generate_images(G, cfg, n), format_table(rows)
    training: EvalHook (--eval-every/--eval-metric), read_metrics(run)
    report: compare_runs(runs, out_dir) -> (report.md, report.html)
    METRICS (registry), parse_metrics("fid,kid"), metric_score(name, values)
"""

# Importing the metric modules registers them, in the order tables show them.
from ganforge.metrics import fid, kid, precision_recall, inception_score  # noqa: F401, I001
from ganforge.metrics import copying, c2st, d_accuracy  # noqa: F401
from ganforge.metrics.c2st import binomial_p_value, classifier_two_sample_test
from ganforge.metrics.d_accuracy import discriminator_accuracy
from ganforge.metrics.domain import fit_extractor
from ganforge.metrics.fid import feature_stats, fid_from_features, frechet_distance
from ganforge.metrics.kid import kernel_inception_distance, mmd2_unbiased
from ganforge.metrics.registry import METRICS, EvalContext, compute, metric_score, parse_metrics

__all__ = [
    "METRICS", "EvalContext", "compute", "metric_score", "parse_metrics",
    "frechet_distance", "feature_stats", "fid_from_features", "kernel_inception_distance", "mmd2_unbiased",
    "classifier_two_sample_test", "binomial_p_value",
    "discriminator_accuracy", "fit_extractor",
]
