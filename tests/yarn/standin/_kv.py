"""skein's key-value store as its application master keeps it: sorted string keys, bytes values,
optional owners (container instances), conditions, transactions and watches.

Not thread-safe: the application master calls it under its lock. Ordering follows Java's:
keys compare by UTF-16 code units, values by *signed* bytes (``ByteBuffer.compareTo``).
"""

from __future__ import annotations

import bisect
import itertools
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from skein.proto import skein_pb2 as pb

from ._server import RpcFailure


class Owners(Protocol):
    """The application master's side of key ownership."""

    def check(self, owner: pb.ContainerInstance) -> None:
        """Raise ``RpcFailure`` unless ``owner`` is a container that has not completed."""

    def claim(self, owner: pb.ContainerInstance, key: str) -> None: ...

    def release(self, owner: pb.ContainerInstance, key: str) -> None: ...


def _order(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare like Java's String.compareTo (UTF-16 code units).
    return key.encode("utf-16-be", "surrogatepass")


def _signed(value: bytes) -> bytes:
    # Flipping the sign bit makes unsigned byte comparison order bytes as Java's signed ones.
    return bytes(b ^ 0x80 for b in value)


_OPERATORS: dict[int, Callable[[int], bool]] = {
    pb.Condition.EQUAL: lambda c: c == 0,
    pb.Condition.NOT_EQUAL: lambda c: c != 0,
    pb.Condition.LESS: lambda c: c < 0,
    pb.Condition.LESS_EQUAL: lambda c: c <= 0,
    pb.Condition.GREATER: lambda c: c > 0,
    pb.Condition.GREATER_EQUAL: lambda c: c >= 0,
}


@dataclass
class _Watcher:
    start: str  # "" is open
    end: str  # "" is open
    puts: bool
    deletes: bool
    send: Callable[[pb.WatchResponse], None]

    def covers(self, key: str) -> bool:
        k = _order(key)
        return _order(self.start) <= k and (not self.end or k < _order(self.end))


class KeyValueStore:
    """The store, its owners' bookkeeping (through ``owners``) and its watchers."""

    def __init__(self, owners: Owners) -> None:
        self._owners = owners
        self._items: dict[str, pb.KeyValue] = {}
        self._sorted: list[tuple[bytes, str]] = []
        self._watchers: dict[int, _Watcher] = {}
        self._watch_ids = itertools.count()

    # -- ranges -----------------------------------------------------------------------------

    def _select(self, start: str, end: str) -> list[str]:
        # skein sends "" or "\0" for an open start and "" for an open end; a bounded range that
        # ends before it starts selects nothing.
        lo = 0 if start in ("", "\0") else bisect.bisect_left(self._sorted, (_order(start), ""))
        hi = len(self._sorted) if not end else bisect.bisect_left(self._sorted, (_order(end), ""))
        return [key for _, key in self._sorted[lo:hi]] if lo < hi else []

    def get_range(self, req: pb.GetRangeRequest) -> pb.GetRangeResponse:
        keys = self._select(req.start, req.end)
        out = pb.GetRangeResponse(count=len(keys), result_type=req.result_type)
        if req.result_type == pb.GetRangeRequest.ITEMS:
            out.result.extend(self._items[k] for k in keys)
        elif req.result_type == pb.GetRangeRequest.KEYS:
            out.result.extend(pb.KeyValue(key=k) for k in keys)
        return out

    def delete_range(self, req: pb.DeleteRangeRequest) -> pb.DeleteRangeResponse:
        keys = self._select(req.start, req.end)
        out = pb.DeleteRangeResponse(count=len(keys), result_type=req.result_type)
        if req.result_type == pb.DeleteRangeRequest.ITEMS:
            out.result.extend(self._items[k] for k in keys)
        elif req.result_type == pb.DeleteRangeRequest.KEYS:
            out.result.extend(pb.KeyValue(key=k) for k in keys)
        for watch_id, watcher in list(self._watchers.items()):
            mine = [k for k in keys if watcher.covers(k)]
            if watcher.deletes and mine:
                event = pb.WatchResponse(type=pb.WatchResponse.DELETE, watch_id=watch_id)
                event.event.extend(pb.KeyValue(key=k) for k in mine)
                watcher.send(event)
        for key in keys:
            self._remove(key)
        return out

    def _remove(self, key: str) -> pb.KeyValue:
        item = self._items.pop(key)
        del self._sorted[bisect.bisect_left(self._sorted, (_order(key), key))]
        if item.HasField("owner"):
            self._owners.release(item.owner, key)
        return item

    def remove_owned(self, key: str) -> None:
        """Delete a key whose owner completed, with a DELETE event carrying the key only."""
        if key not in self._items:
            return
        self._remove(key)
        for watch_id, watcher in list(self._watchers.items()):
            if watcher.deletes and watcher.covers(key):
                event = pb.WatchResponse(type=pb.WatchResponse.DELETE, watch_id=watch_id)
                event.event.add(key=key)
                watcher.send(event)

    # -- puts -------------------------------------------------------------------------------

    def check_put(self, req: pb.PutKeyRequest) -> None:
        """Raise ``RpcFailure`` for a put the application master refuses."""
        if req.ignore_value and req.ignore_owner:
            raise RpcFailure(
                grpc.StatusCode.INVALID_ARGUMENT, "ignore_value & ignore_owner can't both be true"
            )
        if req.ignore_value and req.key not in self._items:
            raise RpcFailure(
                grpc.StatusCode.FAILED_PRECONDITION, "ignore_value=True & key isn't already set"
            )
        if not req.ignore_owner and req.HasField("owner"):
            self._owners.check(req.owner)

    def put(self, req: pb.PutKeyRequest) -> pb.PutKeyResponse:
        """Apply a put that ``check_put`` accepted."""
        previous = self._items.get(req.key)
        item = pb.KeyValue(key=req.key)
        item.value = previous.value if req.ignore_value and previous else req.value
        if req.ignore_owner:
            if previous is not None and previous.HasField("owner"):
                item.owner.CopyFrom(previous.owner)
        else:
            if previous is not None and previous.HasField("owner"):
                self._owners.release(previous.owner, req.key)
            if req.HasField("owner"):
                self._owners.claim(req.owner, req.key)
                item.owner.CopyFrom(req.owner)
        if previous is None:
            bisect.insort(self._sorted, (_order(req.key), req.key))
        self._items[req.key] = item
        for watch_id, watcher in list(self._watchers.items()):
            if watcher.puts and watcher.covers(req.key):
                event = pb.WatchResponse(type=pb.WatchResponse.PUT, watch_id=watch_id)
                event.event.append(item)
                watcher.send(event)
        out = pb.PutKeyResponse(return_previous=req.return_previous)
        if req.return_previous and previous is not None:
            out.previous.CopyFrom(previous)
        return out

    # -- transactions -----------------------------------------------------------------------

    def evaluate(self, cond: pb.Condition) -> bool:
        """A condition as skein's kv module builds them; a missing side only compares equal to
        another missing side (``exists``/``missing`` are ``value != None``/``value == None``)."""
        item = self._items.get(cond.key)
        rhs_case = cond.WhichOneof("rhs")
        # Both sides as (bytes, int) so that one comparison serves values and owners.
        lhs: tuple[bytes, int] | None = None
        rhs: tuple[bytes, int] | None = None
        if cond.field == pb.Condition.VALUE:
            if item is not None:
                lhs = (_signed(item.value), 0)
            if rhs_case == "value":
                rhs = (_signed(cond.value), 0)
        else:
            if item is not None and item.HasField("owner"):
                lhs = (_order(item.owner.service_name), item.owner.instance)
            if rhs_case == "owner":
                rhs = (_order(cond.owner.service_name), cond.owner.instance)
        if lhs is None or rhs is None:
            if cond.operator == pb.Condition.EQUAL:
                return lhs is None and rhs is None
            if cond.operator == pb.Condition.NOT_EQUAL:
                return not (lhs is None and rhs is None)
            return False
        return _OPERATORS[cond.operator]((lhs > rhs) - (lhs < rhs))

    def transaction(self, req: pb.TransactionRequest) -> pb.TransactionResponse:
        succeeded = all(self.evaluate(c) for c in req.condition)
        ops = req.on_success if succeeded else req.on_failure
        # Every put is checked before any operation applies, so a refused put changes nothing.
        for op in ops:
            if op.WhichOneof("request") == "put_key":
                self.check_put(op.put_key)
        out = pb.TransactionResponse(succeeded=succeeded)
        for op in ops:
            kind = op.WhichOneof("request")
            if kind == "put_key":
                out.result.add(put_key=self.put(op.put_key))
            elif kind == "get_range":
                out.result.add(get_range=self.get_range(op.get_range))
            elif kind == "delete_range":
                out.result.add(delete_range=self.delete_range(op.delete_range))
        return out

    # -- watches ----------------------------------------------------------------------------

    def watch(self, create: pb.WatchCreateRequest, send: Callable[[pb.WatchResponse], None]) -> int:
        """Register a watcher; the caller answers CREATE with the returned id."""
        watch_id = next(self._watch_ids)
        kind = create.event_type
        self._watchers[watch_id] = _Watcher(
            start=create.start,
            end=create.end,
            puts=kind in (pb.WatchCreateRequest.ALL, pb.WatchCreateRequest.PUT),
            deletes=kind in (pb.WatchCreateRequest.ALL, pb.WatchCreateRequest.DELETE),
            send=send,
        )
        return watch_id

    def cancel(self, watch_id: int) -> None:
        self._watchers.pop(watch_id, None)

    def __len__(self) -> int:
        return len(self._items)


class WatchStream:
    """One client's ``Watch`` call: the responses waiting to be sent and its watch ids."""

    END = object()  # the call is over
    DISCONNECT = object()  # the application master goes away: fail the call as UNAVAILABLE

    def __init__(self) -> None:
        self.responses: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.watch_ids: set[int] = set()
        self.open = True

    def send(self, response: pb.WatchResponse) -> None:
        if self.open:
            self.responses.put(response)
