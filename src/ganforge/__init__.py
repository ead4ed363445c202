"""ganforge: train and explore image GANs, from a folder of images to samples in a browser.

The Python API (``ganforge.api``) is available at the top level: ``ganforge.train(...)``,
``ganforge.load_generator(...)``... It is imported on first use, so ``import ganforge`` (and
``ganforge --help``) stay fast and do not load torch.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``ganforge.NAME`` for every name of ``ganforge.api`` (and ``ganforge.api`` itself), loaded on first use
    (PEP 562). By name through importlib: the API imports modules that import ``__version__`` from here."""
    import importlib

    if name == "api":
        return importlib.import_module("ganforge.api")
    api = importlib.import_module("ganforge.api")
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    import importlib

    return sorted([*globals(), "api", *importlib.import_module("ganforge.api").__all__])
