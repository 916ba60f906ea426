"""Integration tier: real evaluator processes on the local runtime. Every job's files go to a
temporary REEF_HOME; settings are shortened so failures are detected in a second."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import reef
from reef.settings import EvaluatorTimeout, HeartbeatPeriod


@pytest.fixture(autouse=True)
def reef_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "reef-home"
    monkeypatch.setenv("REEF_HOME", str(home))
    return home


FAST = {HeartbeatPeriod: 0.2, EvaluatorTimeout: 2.0}


def log_of(result: reef.JobResult) -> list[Any]:
    """The event log a test driver sent as its last message."""
    assert result.messages, (
        f"the job sent no messages (status {result.status}, error {result.error})"
    )
    return json.loads(result.messages[-1])
