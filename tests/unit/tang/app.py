"""A small application used by the Tang tests: importable at module level, as shipped
configurations require."""

from __future__ import annotations

import abc
import enum
import pathlib
from typing import Annotated, Generic, Literal, Protocol, TypeVar

from reef.tang import (
    ConfigurationModuleBuilder,
    NamedParameter,
    OptionalImpl,
    OptionalParameter,
    ProviderOf,
    RequiredImpl,
    RequiredParameter,
    default_implementation,
)

CONSTRUCTED: list[str] = []  # every constructor below appends its class name


class Iterations(NamedParameter[int]):
    """Number of rounds."""

    default = 10


class JobName(NamedParameter[str]):
    """The job's name."""


class Ratio(NamedParameter[float]):
    """A ratio."""

    default = 0.5


class Hosts(NamedParameter[list[str]]):
    """Host names."""

    default = ["localhost"]


class Weights(NamedParameter[dict[str, float]]):
    """Weights by name."""


class Mode(enum.Enum):
    FAST = 1
    SAFE = 2


class RunMode(NamedParameter[Mode]):
    """How to run."""

    default = Mode.SAFE


class Level(NamedParameter[Literal["low", "high"]]):
    """A level."""

    default = "low"


class DataDir(NamedParameter[pathlib.Path]):
    """Where data lives."""


class Verbose(NamedParameter[bool]):
    """Chatty output."""

    default = False


class Store(abc.ABC):
    @abc.abstractmethod
    def put(self, key: str, value: bytes) -> None: ...


class FileStore(Store):
    def __init__(self, root: Annotated[pathlib.Path, DataDir]) -> None:
        CONSTRUCTED.append("FileStore")
        self.root = root

    def put(self, key: str, value: bytes) -> None:
        pass


class MemoryStore(Store):
    def __init__(self) -> None:
        CONSTRUCTED.append("MemoryStore")
        self.data: dict[str, bytes] = {}

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = value


class StoreClass(NamedParameter[type[Store]]):
    """A store class (the class itself is the value)."""


class Primary(NamedParameter[Store]):
    """The primary store: an implementation-valued parameter."""

    default = MemoryStore


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> float: ...


class RealClock(Clock):
    def now(self) -> float:
        return 0.0


default_implementation(RealClock)(Clock)


class Job:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        name: Annotated[str, JobName],
        iterations: Annotated[int, Iterations],
    ) -> None:
        CONSTRUCTED.append("Job")
        self.store, self.clock, self.name, self.iterations = store, clock, name, iterations


class JobConf(ConfigurationModuleBuilder):
    STORE = RequiredImpl[Store]()
    NAME = RequiredParameter[str]()
    ITERATIONS = OptionalParameter[int]()


JOB_CONF = (
    JobConf()
    .bind_implementation(Store, JobConf.STORE)
    .bind_named_parameter(JobName, JobConf.NAME)
    .bind_named_parameter(Iterations, JobConf.ITERATIONS)
    .build()
)


class PrimaryConf(ConfigurationModuleBuilder):
    PRIMARY = OptionalImpl[Store]()


PRIMARY_CONF = PrimaryConf().bind_named_parameter(Primary, PrimaryConf.PRIMARY).build()


T = TypeVar("T")


class Handler(Generic[T]):
    def handle(self, event: T) -> None: ...


class IntPrinter(Handler[int]):
    pass


class StrPrinter(Handler[str]):
    pass


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...


class FileSink:
    def write(self, data: bytes) -> None:
        pass


class NotASink:
    def read(self) -> bytes:
        return b""


class CycleA:
    def __init__(self, b: CycleB) -> None:
        self.b = b


class CycleB:
    def __init__(self, a: CycleA) -> None:
        self.a = a


class LazyA:
    def __init__(self, b: LazyB) -> None:
        self.b = b


class LazyB:
    def __init__(self, a: ProviderOf[LazyA]) -> None:
        self.a = a


class Forward:
    def __init__(self, missing: DoesNotExist) -> None:  # type: ignore[name-defined]  # noqa: F821
        self.missing = missing
