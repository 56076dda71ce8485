"""The name of a part of the service graph, typed with its handle (graph.py). Each part's key is
defined beside its handle's class (services.hub.HUB beside Hub), where the modules that read the
part import it; this module depends on nothing, so any module can define one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

H = TypeVar("H")


@dataclass(frozen=True)
class Key(Generic[H]):
    """A part's name, typed with its handle: `graph.get(HUB)` is a `Hub`. Each is defined beside
    its handle's class (services.hub.HUB beside Hub), where the modules that read it import it."""

    name: str


__all__ = ["Key"]
