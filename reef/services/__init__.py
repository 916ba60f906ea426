"""Services that live in contexts and outlive activities: checkpoints, caches, group
communication, naming.

May import: ``reef.errors``, ``reef.tang``, ``reef.wake``.
"""
