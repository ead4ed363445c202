"""A run's configuration from options: flags or keyword arguments -> TrainConfig + ModelConfig.

Priority of settings: the options given, then (when resuming) the run's saved config.json, then
the preset, then the family's defaults, then the defaults in ganforge.config; a choice written two
ways (a weight average's decay or its half-life: ONE_CHOICE) is taken whole from the highest layer
that sets it (a flag for one replaces the other). ``ganforge train`` and ``ganforge.api.train``
both resolve through ``resolve_configs``, so the command line and Python agree on every rule.

Options are named as the ``train`` flags' destinations: any TrainConfig field (``steps``,
``lr_g``...), ``model`` (the family), ``resolution``, ``channels``, ``latent_dim``, ``width``, and
each family option (``spectral_norm``...). None means "not given".
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from ganforge.config import ONE_CHOICE, ModelConfig, Option, TrainConfig
from ganforge.errors import ConfigError
from ganforge.presets import get_preset
from ganforge.runs import RunDir

# option name -> TrainConfig field
TRAIN_FLAGS = {f.name: f.name for f in fields(TrainConfig)}
# option name -> ModelConfig field
MODEL_FLAGS = {"model": "family", "resolution": "resolution", "channels": "channels",
               "latent_dim": "latent_dim", "width": "width"}
_MODEL_DEFAULTS = ModelConfig()
_TRAIN_DEFAULTS = TrainConfig()


def _alternatives(field: str) -> list[str]:
    """The other ways of writing ``field``'s choice (config.ONE_CHOICE). A layer that sets one of them (the
    options given, a preset) replaces the others as a lower layer set them: ``--ema 0.99`` over a family
    whose default is a half-life (``ema_kimg``) means that decay, not "both given"."""
    return [other for group in ONE_CHOICE if field in group for other in group if other != field]


def family_options() -> dict[str, list[tuple[str, Option]]]:
    """Every train option families define: option name -> [(family, Option), ...], in registry order."""
    from ganforge import models

    found: dict[str, list[tuple[str, Option]]] = {}
    for name in models.MODELS:
        for o in models.options_of(name):
            if o.cli:
                found.setdefault(o.name, []).append((name, o))
    return found


def option_names() -> set[str]:
    return set(TRAIN_FLAGS) | set(MODEL_FLAGS) | set(family_options())


def resolve_configs(out: str | Path | None, *, data: str | None = None, preset: str | dict | None = None,
                    resume: bool = False,
                    command: str = "train", options: dict[str, Any] | None = None) -> tuple[TrainConfig, ModelConfig]:
    """TrainConfig and ModelConfig of a run in ``out`` (see the module docstring for the priority).

    ``preset``: a preset's name, or its values as a dict (the budget plan's choice); "auto" alone
    (the plan not made yet) adds nothing."""
    from ganforge import models
    from ganforge.train import check_names

    options = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(options) - option_names())
    if unknown:
        raise ConfigError(f"unknown training option(s): {', '.join(unknown)} (see 'ganforge train --help')")
    if not out:
        raise ConfigError("--out is required (the run directory)")
    out = str(out)
    train_values: dict = {"out": str(out)}
    model_values: dict = {}
    if preset and preset != "auto":
        chosen = preset if isinstance(preset, dict) else get_preset(preset)
        train_values.update(chosen.get("train", {}))
        model_values.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in chosen.get("model", {}).items()})
    if resume:
        run = RunDir(out)
        if not run.exists():
            raise ConfigError(f"nothing to resume: {run.config} does not exist")
        saved = run.read_config()
        train_values.update(saved["train"])
        model_values.update(saved["model"])
    if data is not None:
        options["data"] = str(data)
    for name, field in TRAIN_FLAGS.items():
        if name in options:
            train_values[field] = options[name]
            for other in _alternatives(field):
                if other not in options:
                    train_values[other] = getattr(_TRAIN_DEFAULTS, other)  # off: the option given replaces it
    train_values["out"] = str(out)
    inherited_family = model_values.get("family")
    for name, field in MODEL_FLAGS.items():
        if name in options:
            model_values[field] = options[name]
    family_values = dict(model_values.get("options") or {})
    family = model_values.get("family", _MODEL_DEFAULTS.family)
    if inherited_family and family != inherited_family:  # a model over a preset: its options were for another family
        own = {o.name for o in models.options_of(family)}
        family_values = {k: v for k, v in family_values.items() if k in own}
    for name in family_options():
        if name in options:
            family_values[name] = options[name]
    model_values["options"] = family_values
    for name, value in models.train_defaults(family).items():  # the family's own recipe, under options and presets
        if name not in train_values and not any(other in train_values for other in _alternatives(name)):
            train_values[name] = value
    if not train_values.get("data"):
        raise ConfigError("--data is required (a data set made by 'ganforge data prepare')")
    model_cfg = ModelConfig.from_dict(model_values)
    own_loss = models.required_loss(model_cfg.family) if model_cfg.family in models.MODELS else None
    if own_loss and "loss" not in options:  # a two-domain family's loss goes with it
        train_values["loss"] = own_loss
    if models.is_composite(model_cfg.family) and command == "train":
        raise ConfigError(f"{out} is a composed {model_cfg.family} run; continue it with "
                          f"'ganforge compose --out {out} --resume'")
    models.check_options(model_cfg)
    return check_names(TrainConfig.from_dict(train_values).validate()), model_cfg
