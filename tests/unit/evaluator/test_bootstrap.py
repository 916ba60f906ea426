"""How an evaluator finds its bootstrap: files handed over as one document, the main script's
place."""

import os
import re
import stat
from pathlib import Path

import pytest

from reef.common._bootstrap import Bootstrap, BootstrapError, encode_files, write_encoded_files
from reef.evaluator.__main__ import _local_script


def test_encoded_files_are_written_privately(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.pem").write_bytes(b"stale")
    binary = bytes(range(256))
    write_encoded_files(encode_files({"bootstrap.json": b"{}", "old.pem": binary}), "a test")
    assert (tmp_path / "bootstrap.json").read_bytes() == b"{}"
    assert (tmp_path / "old.pem").read_bytes() == binary  # a restarted container: replaced
    for name in ("bootstrap.json", "old.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"", "from a test are malformed"),
        (b"[1]", "not a JSON object"),
        (b'{"a": "!!not base64!!"}', "malformed"),
        (encode_files({"../escape": b"x"}), "a test names a file outside the directory"),
        (encode_files({"sub/dir": b"x"}), "outside the directory"),
    ],
)
def test_malformed_file_documents_are_refused(
    document: bytes, fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BootstrapError, match=re.escape(fragment)):
        write_encoded_files(document, "a test")
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
