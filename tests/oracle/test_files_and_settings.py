from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from oracle.cli import main as oracle_main
from oracle.device import DeviceSigner
from oracle.schemas import read_report_file
from oracle.settings import OracleSettings
from oracle.validation import Limits
from tests.conftest import key
from tests.oracle.test_report import VECTOR_DOMAIN, VECTOR_REPORT


def test_a_report_file_yields_each_report_and_each_bad_line_with_its_number(tmp_path: Path) -> None:
    device = DeviceSigner(key("device"))
    signed = device.sign(VECTOR_REPORT.replace(device=device.address), VECTOR_DOMAIN)
    with_float = signed.to_json()
    with_float["report"]["day"] = 18715.0
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join([json.dumps(signed.to_json()), "", "{not json", json.dumps(with_float)]) + "\n")

    entries = list(read_report_file(path))
    assert [(e.line, e.signed is not None) for e in entries] == [(1, True), (3, False), (4, False)]
    assert entries[0].signed == signed
    assert entries[1].error is not None and entries[1].error.startswith("not JSON")
    assert entries[2].error is not None and entries[2].error.startswith("report.day: Input should be a valid integer")


def test_a_byte_order_mark_is_skipped_and_a_line_that_is_not_utf8_is_reported_alone(tmp_path: Path) -> None:
    device = DeviceSigner(key("device"))
    line = json.dumps(device.sign(VECTOR_REPORT.replace(device=device.address), VECTOR_DOMAIN).to_json()).encode()
    path = tmp_path / "reports.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line + b"\n" + b'{"caf\xe9": 1}\n' + line + b"\n")

    entries = list(read_report_file(path))
    assert [(e.line, e.signed is not None) for e in entries] == [(1, True), (2, False), (3, True)]
    assert entries[1].error == "not UTF-8 text: byte 0xe9 at column 6"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ORACLE_ACCOUNT", "oracle", "must be a 0x-prefixed 20-byte hex address"),
        ("ORACLE_PRIVATE_KEY", "0x1234", "must be a 32-byte private key"),
        ("ORACLE_METHODOLOGIES", "3", "no methodology 3 is published"),
        ("ORACLE_METHODOLOGIES", ",", "name at least one methodology"),
        ("ORACLE_DATABASE_URL", "nonsense", "must be an SQLAlchemy database URL"),
    ],
)
def test_bad_settings_are_named_and_a_key_is_never_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert oracle_main(["mint", "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"oracle: {variable}=") and message in error
    if variable == "ORACLE_PRIVATE_KEY":
        assert value not in error and "(hidden)" in error


def test_limits_and_batch_size_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OracleSettings().limits() == Limits()
    monkeypatch.setenv("ORACLE_MAX_REPORT_AGE_DAYS", "7")
    monkeypatch.setenv("ORACLE_BATCH_SIZE", "50")
    settings = OracleSettings()
    assert (settings.limits().max_report_age_days, settings.batch_size) == (7, 50)
    monkeypatch.setenv("ORACLE_BATCH_SIZE", "0")
    with pytest.raises(ValidationError, match="batch_size"):
        OracleSettings()
