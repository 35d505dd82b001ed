"""A minimal immutable record base, used instead of ``@dataclass(frozen=True, slots=True)``.

Why not dataclasses: on the send path's import, ``dataclasses`` itself plus the code it
generates and ``exec``s for each class cost ~1 ms per class on a small Lambda (~8 ms for
the sender's six records). Subclasses declare ``__slots__``, the fields in order as
``__match_args__`` (as a dataclass sets it), and set them in ``__init__`` with
``object.__setattr__``; this base gives value equality, hashing, a ``repr``, pattern
matching and immutability, as a frozen dataclass does.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Record"]


class Record:
    """Immutable value object over ``__slots__``; compare, hash and print by field."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")
