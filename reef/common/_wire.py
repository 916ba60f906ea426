"""Wire forms shared by both ends: errors as ``RemoteError`` protos."""

from __future__ import annotations

import traceback as _traceback

from reef.errors import RemoteError
from reef.proto import control_pb2 as pb


def capture(
    exc: BaseException,
    *,
    evaluator_id: str = "",
    context_id: str = "",
    activity_id: str = "",
    log_path: str = "",
) -> pb.RemoteError:
    """The wire form of ``exc``: type name, message and formatted traceback (with notes)."""
    return pb.RemoteError(
        type_name=type(exc).__name__,
        message=str(exc),
        traceback="".join(_traceback.format_exception(exc)),
        evaluator_id=evaluator_id,
        context_id=context_id,
        activity_id=activity_id,
        log_path=log_path,
    )


def remote_error(p: pb.RemoteError, *, log_path: str = "") -> RemoteError:
    """The ``RemoteError`` a wire error stands for."""
    return RemoteError(
        p.type_name or "Error",
        p.message,
        p.traceback,
        evaluator_id=p.evaluator_id,
        context_id=p.context_id,
        activity_id=p.activity_id,
        log_path=p.log_path or log_path,
    )


def local_error(
    exc: BaseException,
    *,
    evaluator_id: str = "",
    context_id: str = "",
    activity_id: str = "",
    log_path: str = "",
) -> RemoteError:
    """A ``RemoteError`` for an exception caught in this process (a driver handler)."""
    return remote_error(
        capture(
            exc,
            evaluator_id=evaluator_id,
            context_id=context_id,
            activity_id=activity_id,
            log_path=log_path,
        )
    )
