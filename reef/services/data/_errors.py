"""The error of the data services.

::

    ReefError
    └── DataError       bad input (a missing file, an unknown format, a malformed row), a cache
                        or combiner used after ``close()``, a spill file that cannot be written

``DataError`` is also a ``ValueError``: most of what raises it is a value the caller gave.
"""

from __future__ import annotations

from reef.errors import ReefError


class DataError(ReefError, ValueError):
    """Input a data service cannot use, or a spill that failed. The message names the file (and
    the line, for a malformed csv row) or the key at fault, and what to do."""
