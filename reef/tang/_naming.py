"""Import paths for classes (``module:qualname``) and their resolution, including classes of the
user's main script.

A class defined in the script a user runs (``python job.py``) lives in ``__main__``. It is written
as ``__main__:Name`` and the configuration records the script's path; another process started
from the same script resolves it by loading that script as a module named ``__reef_main__``
(without running its ``if __name__ == "__main__":`` block). A runtime that ships the script to a
different path tells this module where it is with :func:`use_main_script`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

MAIN = "__main__"
_LOADED_PREFIX = "__reef_main__"

_lock = threading.RLock()
# script path (absolute, as recorded) -> the module that stands for it in this process
_main_modules: dict[str, ModuleType] = {}
# module name of a loaded script -> the script path it stands for
_main_paths: dict[str, str] = {}
# recorded script path -> local path (set by a runtime that shipped the script elsewhere)
_relocated: dict[str, str] = {}
_default_main: str | None = None


class ResolveError(LookupError):
    """An import path that does not resolve; the message says what was missing."""


def class_path(obj: Any) -> str:
    """``module:qualname`` of a class (or function). Classes of a loaded main script are written
    as ``__main__:Name``. Raises ``ValueError`` for what no other process could import."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname:
        raise ValueError(f"{obj!r} has no importable name (no __module__/__qualname__)")
    if "<locals>" in qualname:
        raise ValueError(
            f"{module}.{qualname} is defined inside a function, so no other process can import "
            "it; define it at module level"
        )
    if module in _main_paths:
        module = MAIN
    return f"{module}:{qualname}"


def main_script_of(obj: Any) -> str | None:
    """The path of the main script that defines ``obj``, if it is defined in one."""
    module = getattr(obj, "__module__", None)
    if module == MAIN:
        main = sys.modules.get(MAIN)
        path = getattr(main, "__file__", None)
        if not path or not os.path.isfile(path):
            raise ValueError(
                f"{getattr(obj, '__qualname__', obj)!r} is defined in an interactive session "
                "(__main__ has no file), so no other process can load it; define it in a "
                "script or a module"
            )
        return os.path.abspath(str(path))
    if module in _main_paths:
        return _main_paths[module]
    return None


def use_main_script(path: str, *, recorded: str | None = None) -> None:
    """Make ``__main__:Name`` resolve against the script at ``path`` in this process.

    ``recorded`` is the path a configuration recorded for the script (the path on the machine
    that wrote it); when given, only references recording that path are redirected. Without it,
    the script also serves configurations that record no path.
    """
    global _default_main
    with _lock:
        local = os.path.abspath(path)
        if recorded is not None:
            _relocated[recorded] = local
        else:
            _default_main = local


def load_main_script(path: str) -> ModuleType:
    """Load the script at ``path`` as this process's main script without running its
    ``if __name__ == "__main__":`` block (the ``reef`` command does this with the user's
    script): its classes are written as ``__main__:Name`` and other processes load the same
    script to resolve them. Its directory goes first on ``sys.path``, as ``python script.py``
    would put it."""
    script = os.path.abspath(path)
    if not os.path.isfile(script):
        raise ResolveError(f"no script at {path!r}")
    folder = os.path.dirname(script)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return _main_module(script)


def resolve(path: str, *, main_script: str | None = None) -> Any:
    """The object named by ``module:qualname`` (``module.qualname`` is accepted too)."""
    if not isinstance(path, str) or not path:
        raise ResolveError(f"expected an import path 'module:qualname', got {path!r}")
    if ":" in path:
        module_name, _, qualname = path.partition(":")
    else:
        module_name, _, qualname = path.rpartition(".")
    if not module_name or not qualname:
        raise ResolveError(f"{path!r} is not an import path of the form 'module:qualname'")
    if module_name == MAIN:
        module = _main_module(main_script)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise ResolveError(f"cannot import module {module_name!r} ({e})") from None
        except Exception as e:  # a module that raises while importing: say so, keep the cause
            raise ResolveError(
                f"importing module {module_name!r} raised {type(e).__name__}: {e}"
            ) from e
    obj: Any = module
    walked = []
    for part in qualname.split("."):
        walked.append(part)
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = module_name + (":" + ".".join(walked[:-1]) if len(walked) > 1 else "")
            raise ResolveError(f"{where} has no attribute {part!r}") from None
    return obj


def _main_module(recorded: str | None) -> ModuleType:
    with _lock:
        target = recorded
        if target is not None and target in _relocated:
            target = _relocated[target]
        elif target is None:
            target = _default_main
        running = sys.modules.get(MAIN)
        running_file = getattr(running, "__file__", None)
        if (
            running is not None
            and running_file
            and (target is None or os.path.abspath(running_file) == target)
        ):
            return running
        if target is None:
            raise ResolveError(
                "the configuration names a class of a main script but records no script path, "
                "and this process has no main script to resolve it against"
            )
        if target in _main_modules:
            return _main_modules[target]
        if not os.path.isfile(target):
            raise ResolveError(
                f"the main script {target!r} that defines the configuration's __main__ classes "
                "is not on this machine; ship it with the job or move the classes into a module"
            )
        name = (
            _LOADED_PREFIX
            if _LOADED_PREFIX not in sys.modules
            else (f"{_LOADED_PREFIX}{len(_main_modules)}")
        )
        spec = importlib.util.spec_from_file_location(name, target)
        if spec is None or spec.loader is None:
            raise ResolveError(f"cannot load the main script {target!r} as a module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        _main_paths[name] = recorded or target
        try:
            spec.loader.exec_module(module)
        except BaseException as e:
            del sys.modules[name]
            del _main_paths[name]
            raise ResolveError(
                f"loading the main script {target!r} raised {type(e).__name__}: {e}"
            ) from e
        _main_modules[target] = module
        return module
