"""Body types of every kind, at module level (string annotations resolve here)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, NotRequired, Optional, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from wsgate.bodies import forbid_extra


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int
    y: int


@dataclass
class Shape:
    name: str
    points: list[Point]
    colour: Colour = Colour.RED
    label: Optional[str] = None  # noqa: UP045 (the old spelling must work too)
    weight: float | None = None
    tags: set[str] = field(default_factory=set)
    size: tuple[int, int] = (1, 1)
    extra: dict[str, int] = field(default_factory=dict)
    kind: Literal["open", "closed"] = "closed"


@forbid_extra
@dataclass
class Strict:
    text: str


@dataclass
class Tree:
    value: int
    children: list[Tree] = field(default_factory=list)


@dataclass
class Positive:
    n: int

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ValueError("n must be positive")


class Meta(TypedDict, total=False):
    source: str
    priority: int


class Note(TypedDict):
    text: Required[str]
    meta: NotRequired[Meta]
    ids: list[int | str]


@forbid_extra
class StrictNote(TypedDict):
    text: str


class Address(BaseModel):
    city: str
    zip: str = Field(max_length=10)


class Person(BaseModel):
    name: str
    age: int
    address: Address | None = None
    tags: list[str] = []


class StrictPerson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class Reply(BaseModel):
    echoed: str
    length: int


@dataclass
class DataReply:
    echoed: str
    point: Point


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str


class Node(BaseModel):
    value: int
    children: list[Node] = []
