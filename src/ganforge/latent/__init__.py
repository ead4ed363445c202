"""Latent-space tools: sampling with truncation and classes, interpolation and morph videos,
embedding a real image (projection), editing directions, and inpainting.

Plain functions on a generator ``G(z, labels=None)`` (any ganforge family); the CLI
commands ``interpolate``, ``midpoint``, ``project``, ``directions``, ``edit`` and
``inpaint`` are thin wrappers around them. Latents are float32 tensors (N, latent_dim)
on CPU; images are uint8 numpy arrays (N, H, W, C).
"""

from ganforge.latent.directions import Directions, class_directions, edit, feature_classifier, find_directions
from ganforge.latent.inpaint import (
                                        InpaintResult,
                                        free_form_mask,
                                        inpaint,
                                        inpaint_once,
                                        poisson_blend,
                                        rectangle_mask,
)
from ganforge.latent.interpolate import MODES, interpolate, midpoint, slerp
from ganforge.latent.loading import (
                                        data_params,
                                        load_discriminator,
                                        load_mask,
                                        load_photo,
)
from ganforge.latent.optimise import render
from ganforge.latent.project import ProjectionResult, pixel_error, project
from ganforge.latent.sample import load_latents, mean_latent, resolve_latent, sample_latents, save_latents, truncate
from ganforge.latent.video import grid_frames, read_video, write_video
from ganforge.sampling import (  # the seed -> class rule lives in sampling
                                        labels_for_seeds,
                                        resolve_class,
)

__all__ = [
    "Directions", "InpaintResult", "MODES", "ProjectionResult", "class_directions", "data_params", "edit",
    "feature_classifier", "find_directions", "free_form_mask", "grid_frames", "inpaint", "inpaint_once", "interpolate",
    "labels_for_seeds", "load_discriminator", "load_latents", "load_mask", "load_photo", "mean_latent",
    "midpoint", "pixel_error", "poisson_blend", "project", "read_video", "rectangle_mask", "render",
    "resolve_class", "resolve_latent", "sample_latents", "save_latents", "slerp", "truncate", "write_video",
]
