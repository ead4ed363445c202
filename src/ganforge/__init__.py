"""ganforge: train and explore image GANs, from a folder of images to samples in a browser."""

__version__ = "0.1.0"
