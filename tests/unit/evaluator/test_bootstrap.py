"""How an evaluator finds its bootstrap: files from the environment, the main script's place."""

import base64
import os
import re
import stat
from pathlib import Path

import pytest

from reef.common._bootstrap import Bootstrap, BootstrapError, files_variable, write_files_from_env
from reef.evaluator.__main__ import _local_script


def _env(files: dict[str, bytes]) -> str:
    return files_variable(files)


def _encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_the_files_variable_is_shell_safe() -> None:
    """YARN pastes it between double quotes into a bash script: nothing bash interprets."""
    value = files_variable(
        {"bootstrap.json": b'{"a": "$HOME `x` \\ \n"}', "k.pem": bytes(range(256))}
    )
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", value)


def test_files_from_the_environment_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.pem").write_bytes(b"stale")
    write_files_from_env(_env({"bootstrap.json": b"{}", "old.pem": b"fresh"}))
    assert (tmp_path / "bootstrap.json").read_bytes() == b"{}"
    assert (tmp_path / "old.pem").read_bytes() == b"fresh"
    for name in ("bootstrap.json", "old.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ('{"a": "YQ=="}', "malformed"),  # plain JSON: not what runtimes send
        (_encoded("[1]"), "not a JSON object"),
        (_encoded('{"a": "!!not base64!!"}'), "malformed"),
        (_env({"../escape": b"x"}), "outside the directory"),
        (_env({"sub/dir": b"x"}), "outside the directory"),
    ],
)
def test_malformed_file_lists_are_refused(
    text: str, fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BootstrapError, match=fragment):
        write_files_from_env(text)
    assert list(tmp_path.iterdir()) == []


def test_the_main_script_is_found_next_to_the_evaluator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    boot = Bootstrap("j", "e", "h:1", main_script="/elsewhere/job.py")
    assert _local_script(boot) == "/elsewhere/job.py"  # not here either: left as recorded
    (tmp_path / "job.py").write_text("")
    assert _local_script(boot) == str(tmp_path / "job.py")
    told = Bootstrap("j", "e", "h:1", main_script="/elsewhere/job.py", main_script_here="/x.py")
    assert _local_script(told) == "/x.py"
