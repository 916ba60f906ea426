"""The ``reef`` command and the examples, end to end."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reef import cli

pytestmark = [pytest.mark.processes, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def reef(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(list(args), out=out)
    return code, out.getvalue()


def test_check_prints_the_plan() -> None:
    code, out = reef("check", f"{EXAMPLES}/evaluator_reuse.py:CountingDriver", "--set", "Rounds=7")
    assert code == cli.EXIT_OK
    assert "CountingDriver: configuration OK" in out
    assert "rounds: 7 [Rounds] (configured)" in out
    assert "Rounds (default 3): How many activities to run on each evaluator." in out


def test_check_reports_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = reef("check", f"{EXAMPLES}/evaluator_reuse.py:CountingDriver", "--set", "Rounds=many")
    assert code == cli.EXIT_FAILED
    assert "cannot parse 'many' as int" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["check", "nowhere"], "is not a target"),
        (["check", "no_such_module_anywhere:Driver"], "cannot import 'no_such_module_anywhere'"),
        (
            ["check", f"{EXAMPLES}/hello.py:Hello"],
            "no reef.Driver subclass named 'Hello'; drivers there: ['HelloDriver']",
        ),
        (
            ["check", f"{EXAMPLES}/hello.py:HelloDriver", "--set", "Nope=1"],
            "no such named parameter (known: Greeting)",
        ),
        (
            ["check", f"{EXAMPLES}/hello.py:HelloDriver", "--set", "Greeting"],
            "write --set Name=value",
        ),
        (["status", "no-such-job"], "no job 'no-such-job'"),
    ],
)
def test_usage_errors_say_what_to_do(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = reef(*args)
    assert code == cli.EXIT_USAGE
    assert fragment in capsys.readouterr().err


def test_run_status_profile_and_logs(reef_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = reef("run", f"{EXAMPLES}/hello.py:HelloDriver", "--set", "Greeting=Bonjour")
    assert code == cli.EXIT_OK
    assert out.startswith("Bonjour from evaluator pid ")
    job_id = next((reef_home / "jobs").iterdir()).name
    err = capsys.readouterr().err
    assert f"job {job_id}: SUCCEEDED" in err
    assert "1 completed, 0 failed" in err  # the summary
    code, out = reef("status", job_id)
    assert code == cli.EXIT_OK
    assert "state       SUCCEEDED" in out
    assert "0 requested, 0 launching, 0 running, 1 done, 0 failed" in out
    assert "evaluator-1" in out
    code, out = reef("profile", job_id)
    assert code == cli.EXIT_OK
    assert "driver.dispatch" in out
    code, out = reef("logs", job_id)
    assert "driver.log <==" in out
    assert "evaluator-1/evaluator.log <==" in out
    assert "registered with" in out
    code, out = reef("logs", job_id, "--evaluator", "evaluator-1", "--follow")
    assert code == cli.EXIT_OK  # an ended job: follow prints what there is and returns
    assert "driver.log" not in out
    assert "registered with" in out
    code, _ = reef("logs", job_id, "--evaluator", "evaluator-9")
    assert code == cli.EXIT_USAGE
    assert "no evaluator 'evaluator-9' (evaluators: ['evaluator-1'])" in capsys.readouterr().err


def test_kill_stops_a_job_run_from_another_process(reef_home: Path) -> None:
    env = dict(os.environ, REEF_HOME=str(reef_home), PYTHONPATH=str(REPO))
    job = subprocess.Popen(
        [sys.executable, "-m", "reef", "run", "tests.integration.test_client:Endless"],
        env=env,
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while (
            status is None
            or status.get("status") != "RUNNING"
            or not list(reef_home.glob("jobs/*/evaluators/evaluator-1"))
        ):
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.02)  # a poll with a deadline
            found = list(reef_home.glob("jobs/*/status.json"))
            status = json.loads(found[0].read_text()) if found else None
        code, out = reef("kill", status["id"])
        assert code == cli.EXIT_OK
        assert "kill requested" in out
        _, err = job.communicate(timeout=60)
        assert job.returncode == cli.EXIT_KILLED, err
        assert "interrupted; the job was killed" in err
    finally:
        job.kill()
        job.communicate(timeout=30)


@pytest.mark.parametrize("example", ["hello.py", "evaluator_reuse.py"])
def test_examples_run_as_scripts(example: str, reef_home: Path) -> None:
    env = dict(os.environ, REEF_HOME=str(reef_home))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / example)],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last in ("[b'5', b'5']",) or last.startswith("SUCCEEDED ['Hello from evaluator")


def test_the_word_count_example_counts_and_sums(reef_home: Path) -> None:
    env = dict(os.environ, REEF_HOME=str(reef_home))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "word_count.py")],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    spec = importlib.util.spec_from_file_location("word_count", EXAMPLES / "word_count.py")
    assert spec is not None and spec.loader is not None
    word_count = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(word_count)  # (its job starts only under __main__)
    text = " ".join(word_count.TEXT).split()
    expected = sorted(
        ((w, text.count(w)) for w in set(text)), key=lambda item: (-item[1], item[0])
    )[:3]
    assert [tuple(pair) for pair in result["top"]] == expected
    assert result["sum"] == [0.0, 6.0, 12.0, 18.0]  # (1 + 2 + 3) * [0, 1, 2, 3]
