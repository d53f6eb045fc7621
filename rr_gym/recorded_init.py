"""Checkpoints of modules rebuilt from the arguments they were constructed with.

A :class:`RecordedInit` subclass's constructor arguments are recorded when it is built (as
diffusers' ``register_to_config`` does); its checkpoint is those arguments (JSON) and its
``state_dict`` (safetensors), and loading calls the constructor with them again. So a model
class writes its arguments once, in its signature, and never a ``checkpoint_state`` /
``from_checkpoint_state`` pair by hand.

Arguments are stored as JSON: a :class:`~rr_gym.layout.TransitionLayout` or
:class:`~rr_gym.normalizer.Normalizer` by its ``to_dict()``, arrays and tuples as lists. On
load, a parameter annotated with one of those types (or ``np.ndarray``) is rebuilt from it.

Example:
    >>> import torch
    >>> class Line(RecordedInit, torch.nn.Module):
    ...     def __init__(self, dim: int, *, bias: bool = True) -> None:
    ...         super().__init__()
    ...         self.lin = torch.nn.Linear(dim, 1, bias=bias)
    >>> tensors, config = Line(3, bias=False).checkpoint_state()
    >>> config
    {'dim': 3, 'bias': False, 'training': {}}
    >>> Line.from_checkpoint_state(tensors, config).lin.bias is None
    True
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import torch

from rr_gym.checkpoint import Checkpointable
from rr_gym.errors import CheckpointError, ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer

__all__ = ["RecordedInit"]

T = TypeVar("T", bound="RecordedInit")

_ARGS = "_recorded_init_args"


def _recording(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` that records its bound arguments on the instance, in the outermost call
    only (a subclass's ``super().__init__`` does not overwrite them)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recording(self: Any, *args: Any, **kwargs: Any) -> None:
        outer = _ARGS not in self.__dict__
        if outer:
            self.__dict__[_ARGS] = {}
        init(self, *args, **kwargs)
        if outer:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            self.__dict__[_ARGS] = arguments

    return recording


def _encode(value: Any) -> Any:
    if isinstance(value, (TransitionLayout, Normalizer)):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    names = set(re.findall(r"[\w.]+", str(annotation)))
    if "TransitionLayout" in names:
        return TransitionLayout.from_dict(value)
    if "Normalizer" in names:
        return Normalizer.from_dict(value)
    if names & {"np.ndarray", "ndarray"}:
        return np.asarray(value)
    return value


class RecordedInit(Checkpointable):
    """A checkpointable ``nn.Module`` saved as its constructor arguments plus its weights.

    Put it before ``nn.Module`` in the bases. ``metadata`` (if the constructor takes it) is
    saved as the instance's current ``metadata``; ``training_config`` (the training options a
    trainer records) is saved as ``training`` and restored.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__init__)  # type: ignore[method-assign]

    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The weights and ``{argument: JSON value, ..., "training": {...}}``."""
        arguments = dict(self.__dict__[_ARGS])
        if "metadata" in arguments:
            arguments["metadata"] = getattr(self, "metadata", arguments["metadata"])
        config = {name: _encode(value) for name, value in arguments.items()}
        config["training"] = _encode(getattr(self, "training_config", {}))
        assert isinstance(self, torch.nn.Module)
        return dict(self.state_dict()), config

    @classmethod
    def from_checkpoint_state(
        cls: type[T], tensors: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> T:
        """Rebuild with the recorded arguments and load the weights strictly.

        Raises:
            CheckpointError: an argument this class does not take, arguments it refuses, or
                weights that do not fit.
        """
        parameters = inspect.signature(cls.__init__).parameters
        kwargs = {}
        for name, value in config.items():
            if name == "training":
                continue
            if name not in parameters:
                raise CheckpointError(
                    f"the {cls.__name__} checkpoint has argument {name!r}, which "
                    f"{cls.__name__}() does not take; expected some of "
                    f"{[p for p in parameters if p != 'self']}"
                )
            kwargs[name] = _decode(parameters[name].annotation, value)
        try:
            model = cls(**kwargs)
        except (TypeError, ConfigError) as exc:
            raise CheckpointError(
                f"cannot rebuild {cls.__name__} from its checkpoint: {exc}"
            ) from exc
        assert isinstance(model, torch.nn.Module)
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"weights do not fit {cls.__name__}: {exc}") from exc
        model.training_config = dict(config.get("training") or {})
        return model
