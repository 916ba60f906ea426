"""The evaluator process: its connection to the driver, heartbeats, the context stack and the
activity runner (``python -m reef.evaluator``).

May import: ``reef.errors``, ``reef.tang``, ``reef.wake``, ``reef.proto``, ``reef.common``,
``reef.services``. Never imports ``reef.driver``.
"""
