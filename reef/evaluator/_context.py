"""The context stack of an evaluator.

A context is a Tang injector: the root one made from the root context's configuration, each
child a fork of its parent. A context's services are instantiated when it starts, in the order
given, and closed in reverse order when it closes (``close()``, where a service has one). Objects
a parent made are shared by its children and by activities, which is what lets state outlive
activities.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reef.common._activity import ContextMessenger
from reef.common._identity import EvaluatorIdentity
from reef.errors import StateError
from reef.tang import Configuration, Injector, Tang
from reef.tang._naming import resolve

_log = logging.getLogger("reef.evaluator")


class ContextFailure(Exception):
    """A context could not start, or did not close cleanly; ``cause`` is the original error."""

    def __init__(self, context_id: str, cause: BaseException) -> None:
        super().__init__(f"context {context_id!r}: {type(cause).__name__}: {cause}")
        self.context_id = context_id
        self.cause = cause


@dataclass(slots=True)
class RunningContext:
    """One context of the stack."""

    id: str
    parent: RunningContext | None
    injector: Injector
    messenger: ContextMessenger
    services: list[Any] = field(default_factory=list)


class ConfigurationCache:
    """Parsed configuration documents by their text: activities submitted one after another
    usually carry the same document, and reusing the parsed object reuses its cached plans."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[str, Configuration] = OrderedDict()

    def get(self, text: str) -> Configuration:
        """The configuration for ``text`` (parsed and checked on first sight)."""
        conf = self._items.get(text)
        if conf is None:
            conf = Configuration.from_yaml(text) if text else Configuration()
            self._items[text] = conf
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(text)
        return conf


class ContextStack:
    """The evaluator's contexts, root first. Used from the evaluator's control thread only."""

    def __init__(
        self,
        send_message: Callable[[str, bytes], None],
        configurations: ConfigurationCache,
        main_script: str | None,
        identity: EvaluatorIdentity | None = None,
    ) -> None:
        self._send_message = send_message
        self._identity = identity
        self._configurations = configurations
        self._main_script = main_script
        self._stack: list[RunningContext] = []
        self._classes: dict[str, Any] = {}

    @property
    def top(self) -> RunningContext | None:
        """The context that takes activities and children."""
        return self._stack[-1] if self._stack else None

    def __len__(self) -> int:
        return len(self._stack)

    def ids(self) -> list[str]:
        """Context ids, root first."""
        return [c.id for c in self._stack]

    def find(self, context_id: str) -> RunningContext | None:
        """The context with that id, if it is on the stack."""
        for c in self._stack:
            if c.id == context_id:
                return c
        return None

    def resolve_class(self, path: str) -> Any:
        """A class named ``module:qualname`` (classes of the driver's main script included)."""
        cls = self._classes.get(path)
        if cls is None:
            cls = self._classes[path] = resolve(path, main_script=self._main_script)
        return cls

    def push(
        self, context_id: str, parent_id: str, configuration: str, services: Sequence[str]
    ) -> RunningContext:
        """Start a context on top of the stack; ``ContextFailure`` if it cannot start (nothing
        of it is left behind)."""
        top = self.top
        try:
            if (top.id if top else "") != parent_id:
                raise StateError(
                    f"context {context_id!r} asks for parent {parent_id!r}, but the top of the "
                    f"stack is {top.id if top else 'empty'!r}"
                )
            if self.find(context_id) is not None:
                raise StateError(f"context id {context_id!r} is already on this evaluator")
            conf = self._configurations.get(configuration)
            classes = [self.resolve_class(path) for path in services]
        except Exception as e:
            raise ContextFailure(context_id, e) from e
        messenger = ContextMessenger(context_id, self._send_message)
        instances: dict[type, Any] = {ContextMessenger: messenger}
        if self._identity is not None:
            instances[EvaluatorIdentity] = self._identity
        try:
            injector = (
                top.injector.fork(conf, instances=instances)
                if top is not None
                else Tang.new_injector(conf, instances=instances)
            )
        except Exception as e:
            raise ContextFailure(context_id, e) from e
        context = RunningContext(context_id, top, injector, messenger)
        for cls in classes:
            try:
                context.services.append(injector.get_instance(cls))
            except Exception as e:
                for problem in _close_services(context.services):
                    _log.error("while abandoning context %s: %s", context_id, problem)
                raise ContextFailure(context_id, e) from e
        self._stack.append(context)
        return context

    def pop(self, context_id: str) -> list[BaseException]:
        """Close the top context (its services in reverse order); the errors they raised."""
        top = self.top
        if top is None or top.id != context_id:
            raise StateError(
                f"cannot close context {context_id!r}: only the top context "
                f"({top.id if top else 'none'!r}) can be closed"
            )
        self._stack.pop()
        return _close_services(top.services)

    def deliver(self, context_id: str, data: bytes) -> int:
        """Hand a driver message to every service of the context that defines
        ``on_context_message``; how many received it."""
        context = self.find(context_id)
        if context is None:
            raise StateError(f"no context {context_id!r} on this evaluator")
        receivers = [
            s for s in context.services if callable(getattr(s, "on_context_message", None))
        ]
        for service in receivers:
            service.on_context_message(data)
        return len(receivers)


def _close_services(services: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []
    for service in reversed(services):
        close = getattr(service, "close", None)
        if not callable(close):
            continue
        try:
            close()
        except Exception as e:  # keep closing the others; the first error is reported
            errors.append(e)
    return errors
