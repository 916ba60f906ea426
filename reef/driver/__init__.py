"""The driver: the user's ``Driver`` class, ``@on`` handlers, driver events and their handles,
the evaluator state machines, the evaluator requestor and the control-plane server.

May import: ``reef.errors``, ``reef.tang``, ``reef.wake``, ``reef.proto``, ``reef.services`` and the
runtime interface (``reef.runtime._api``). Never imports ``reef.evaluator``.
"""
