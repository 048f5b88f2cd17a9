from __future__ import annotations

from pathlib import Path

import pytest

from scripts.cli import main


def test_a_bad_setting_is_named_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("ORACLE_BATCH_SIZE", "abc")
    assert main(["demo", "--work-dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("gtc: ORACLE_BATCH_SIZE='abc': Input should be a valid integer")
    assert not any(tmp_path.iterdir())
