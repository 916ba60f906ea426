"""Wake: event handlers, stages (sync, thread pool, single thread, timer), clocks and per-stage
profiling.

May import: the standard library and ``reef.errors`` (a leaf module) only.
"""
