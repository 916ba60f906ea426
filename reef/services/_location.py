"""The default checkpoint folder: ``checkpoints`` in the job's directory.

Neither the driver nor the evaluators are told the job's directory today, so the default is found
from where the local runtime starts an evaluator: in ``<job dir>/evaluators/<evaluator id>``,
next to the ``bootstrap.json`` that names the job and the evaluator. The layout is checked
against that document rather than assumed, and anything else (another runtime, a process that is
not an evaluator) gets an error that says to set ``CheckpointPath``.
"""

from __future__ import annotations

import json
import os

from reef.services._errors import CheckpointError

FOLDER = "checkpoints"
_BOOTSTRAP = "bootstrap.json"


def job_checkpoint_folder(cwd: str | None = None) -> str:
    """``<job dir>/checkpoints`` for an evaluator started by the local runtime in ``cwd`` (the
    current directory by default); ``CheckpointError`` elsewhere."""
    here = os.path.abspath(cwd if cwd is not None else os.getcwd())
    how = (
        "set CheckpointPath to a folder or fsspec URL that every evaluator of the job can "
        "reach, e.g. checkpoint_context(id, path=...)"
    )
    try:
        with open(os.path.join(here, _BOOTSTRAP), "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"CheckpointPath is not set, and {here} is not a local-runtime evaluator's folder "
            f"(cannot read its {_BOOTSTRAP}: {e}), so the job's directory is unknown: {how}"
        ) from None
    evaluators = os.path.dirname(here)
    job_dir = os.path.dirname(evaluators)
    if not (
        isinstance(doc, dict)
        and doc.get("evaluator_id") == os.path.basename(here)
        and os.path.basename(evaluators) == "evaluators"
        and doc.get("job_id") == os.path.basename(job_dir)
    ):
        raise CheckpointError(
            f"CheckpointPath is not set, and {here} is not laid out as "
            f"<job dir>/evaluators/<evaluator id> of the job its {_BOOTSTRAP} names, so the "
            f"job's directory is unknown: {how}"
        )
    return os.path.join(job_dir, FOLDER)
