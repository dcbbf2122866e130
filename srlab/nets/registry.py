"""The architecture registry: each backbone declares how srlab's top-level knobs reach its constructor.

A config composes a network from two parts: the preset's ``model.net`` (the architecture's own
constructor arguments) and the top-level knobs (``scale``, ``window``, ``attn``, ``keep``, ``ca_weight``,
``overlap``) that an ablation swaps. An :class:`Arch` entry, registered by the architecture's own module
(as timm's model entrypoints are), is the one place that says

- which knobs the architecture takes (the others must stay at the preset's defaults),
- how the knobs become constructor arguments (:meth:`Arch.spec`),
- which arguments of a token mixer the network sets itself (:attr:`Arch.mixer_arguments`), so that a
  config cannot set them a second time,
- the value rules of its knobs (:attr:`Arch.check`, a ``ValueError`` naming the key and the value),
- which official model families' checkpoints load into it (:attr:`Arch.official_families`).

No Hydra and no Lightning here: knobs arrive as plain values (:class:`Knobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

KNOBS = ("scale", "window", "attn", "keep", "ca_weight", "overlap")
"""The top-level knobs of ``conf/config.yaml`` an architecture may take."""


@dataclass(frozen=True)
class Knobs:
    """The top-level knobs of one job as plain values (``attn`` and ``keep`` are their config nodes)."""

    scale: int
    window: int
    attn: Mapping[str, Any]
    keep: Mapping[str, Any]
    ca_weight: float = 0.0
    overlap: float | None = None


def _no_check(net: Mapping[str, Any], knobs: Knobs) -> None:
    """Architectures whose knobs need no rule beyond their types."""


def _no_mixer(mixer: type[nn.Module]) -> dict[str, str]:
    """Architectures without a token mixer set none of its arguments."""
    return {}


@dataclass(frozen=True)
class Arch:
    """How one architecture is built from a preset's ``model.net`` and the top-level knobs.

    Attributes:
        name: the value of ``model.arch`` in a preset (``conf/model/*.yaml``).
        cls: the network class; ``model.net`` keys are checked against its constructor.
        takes: constructor argument each taken knob sets (``{"window": "window_size", "scale": "scale"}``);
            a knob not listed must stay at the preset's default.
        build: the knob-derived constructor arguments, given ``model.net`` and the knobs (for example K^l
            resolved from ``keep`` for the network's depth). Knob arguments not returned are passed as is.
        check: value rules of the knobs for this architecture; raises ``ValueError`` naming key and value.
        mixer_arguments: for a token-mixer class, the mixer arguments the network passes itself → the
            config key they come from (``{"dim": "model.net.embed_dim", "window_size": "window"}``).
        official_families: official model families (``pft``, ``hat``, …) whose checkpoints map onto it.
    """

    name: str
    cls: type[nn.Module]
    takes: Mapping[str, str] = field(default_factory=lambda: {"scale": "scale"})
    build: Callable[[Mapping[str, Any], Knobs], dict[str, Any]] | None = None
    check: Callable[[Mapping[str, Any], Knobs], None] = _no_check
    mixer_arguments: Callable[[type[nn.Module]], dict[str, str]] = _no_mixer
    official_families: tuple[str, ...] = ()

    def spec(self, net: Mapping[str, Any], knobs: Knobs) -> dict[str, Any]:
        """The plain spec :func:`build_net` builds: ``{"arch": name, **model.net, **knob arguments}``."""
        arguments = {argument: getattr(knobs, knob) for knob, argument in self.takes.items()}
        if self.build is not None:
            arguments |= self.build(net, knobs)
        return {"arch": self.name, **net, **arguments}

    @property
    def set_by_knobs(self) -> dict[str, str]:
        """Constructor argument → the knob that sets it (``model.net`` may not set these)."""
        return {argument: knob for knob, argument in self.takes.items()}


ARCHS: dict[str, Arch] = {}


def register_arch(arch: Arch) -> Arch:
    """Add ``arch`` to the registry (an architecture's module calls this once, at import)."""
    if arch.name in ARCHS and ARCHS[arch.name].cls is not arch.cls:
        raise ValueError(
            f"architecture {arch.name!r} is registered twice ({ARCHS[arch.name].cls.__name__}, {arch.cls.__name__})"
        )
    unknown = set(arch.takes) - set(KNOBS)
    if unknown:
        raise ValueError(f"architecture {arch.name!r} takes unknown knobs {sorted(unknown)}; knobs: {KNOBS}")
    ARCHS[arch.name] = arch
    return arch


def get_arch(name: str) -> Arch:
    """The architecture registered as ``name``; an unknown name lists the known ones."""
    try:
        return ARCHS[name]
    except KeyError:
        raise ValueError(f"model.arch={name!r}: expected one of {sorted(ARCHS)}") from None


def arch_for_family(family: str) -> Arch:
    """The architecture official checkpoints of ``family`` load into."""
    for arch in ARCHS.values():
        if family in arch.official_families:
            return arch
    raise ValueError(f"no registered architecture loads official {family!r} checkpoints")


def build_net(spec: Mapping[str, Any]) -> nn.Module:
    """Build a network from a plain spec: ``{"arch": <registered name>, **constructor kwargs}``."""
    spec = dict(spec)
    if "arch" not in spec:
        raise ValueError(f"network spec without 'arch': {sorted(spec)}; expected one of {sorted(ARCHS)}")
    return get_arch(spec.pop("arch")).cls(**spec)
