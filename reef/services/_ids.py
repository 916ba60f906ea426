"""Checkpoint ids, series names and the names of files in a checkpoint store.

An id is ``<series>.<nanoseconds since the epoch, 19 digits>.<12 random hex digits>``, e.g.
``sim-3f2a.1718101530123456789.9f8e7d6c5b4a``. Within a series, ids sort as they were committed:
the time part is fixed-width, taken at commit, and made larger than every id already in the
series (so a resumed activity on a host whose clock is behind still writes ids that sort last).
The random part makes ids unique across processes and hosts without coordination. Committed
checkpoints are stored as ``<id>.ckpt``; writes in progress as ``.<token>.<pid>.<host>.tmp``,
which no listing returns.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass

SUFFIX = ".ckpt"
DEFAULT_SERIES = "default"
_SERIES = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
_SERIES_RE = re.compile(_SERIES + r"\Z")
_ID_RE = re.compile(rf"(?P<series>{_SERIES})\.(?P<ns>[0-9]{{19}})\.(?P<token>[0-9a-f]{{12}})\Z")
_TEMP_RE = re.compile(r"\.(?P<token>[0-9a-f]{12})\.(?P<pid>[0-9]+)\.(?P<host>.+)\.tmp\Z")


@dataclass(frozen=True, slots=True)
class ParsedId:
    """The parts of a checkpoint id."""

    series: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class TempName:
    """The parts of a temporary file's name: which process on which host writes it."""

    pid: int
    host: str


def check_series(series: str) -> str:
    """``series`` if it is a valid series name, else ``ValueError`` saying what is allowed."""
    if not isinstance(series, str) or not _SERIES_RE.match(series):
        raise ValueError(
            f"series={series!r} is not a valid checkpoint series name: use 1 to 100 letters, "
            "digits, '_' or '-', starting with a letter or a digit"
        )
    return series


def parse_id(checkpoint_id: str) -> ParsedId:
    """The parts of ``checkpoint_id``; ``ValueError`` if it is not a checkpoint id (which also
    keeps ids from naming anything outside the store, such as ``../x``)."""
    match = _ID_RE.match(checkpoint_id) if isinstance(checkpoint_id, str) else None
    if match is None:
        raise ValueError(
            f"{checkpoint_id!r} is not a checkpoint id (ids look like "
            "'series.1718101530123456789.9f8e7d6c5b4a' and come from save(), create() or list())"
        )
    return ParsedId(match["series"], int(match["ns"]))


def make_id(series: str, created_ns: int) -> str:
    """A new id in ``series`` with the time part ``created_ns``."""
    return f"{series}.{created_ns:019d}.{secrets.token_hex(6)}"


def file_name(checkpoint_id: str) -> str:
    """The file name of a committed checkpoint."""
    return checkpoint_id + SUFFIX


def id_of_file(name: str) -> str | None:
    """The id stored in a file called ``name``, or ``None`` for anything that is not a
    committed checkpoint (temporary files, strangers)."""
    if not name.endswith(SUFFIX):
        return None
    candidate = name[: -len(SUFFIX)]
    return candidate if _ID_RE.match(candidate) else None


def this_host() -> str:
    """This machine's name as temporary file names record it."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def temp_name() -> str:
    """A fresh name for a write in progress by this process."""
    return f".{secrets.token_hex(6)}.{os.getpid()}.{this_host()}.tmp"


def parse_temp(name: str) -> TempName | None:
    """Who writes the temporary file ``name``, or ``None`` if it is not one of ours."""
    match = _TEMP_RE.match(name)
    return TempName(int(match["pid"]), match["host"]) if match else None
