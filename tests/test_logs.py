"""Logging: secrets never reach a log line, whatever code logged them."""

import logging
from pathlib import Path

import pytest

from fleece.config import load_settings, secret_texts
from fleece.errors import ConfigError
from fleece.logs import MIN_SECRET_LENGTH, setup_logging

KEY = "PKTESTDISTINCTIVEKEY0001"
SECRET = "sEcReTdIsTiNcTiVe0123456789abcdef"


def test_api_keys_are_masked_in_messages_args_and_tracebacks(tmp_path: Path) -> None:
    path = setup_logging("INFO", tmp_path, [KEY, SECRET], stderr=False)
    log = logging.getLogger("fleece.test")
    log.info("key=%s", KEY)
    log.warning(f"secret inline {SECRET}")
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        log.exception("failed with %s", KEY)
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert path is not None
    text = path.read_text()
    assert KEY not in text and SECRET not in text
    assert text.count("***") >= 4
    assert "boom" in text


def test_log_file_is_logs_orchestrator_out(tmp_path: Path) -> None:
    path = setup_logging("INFO", tmp_path / "logs", [], stderr=False)
    assert path == tmp_path / "logs" / "orchestrator.out"
    logging.getLogger("fleece").error("an error line")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert " ERROR fleece an error line" in path.read_text()


def test_the_shortest_dashboard_token_the_configuration_accepts_is_masked(tmp_path: Path) -> None:
    # One length for both: a token the configuration accepts but the log filter thought too
    # short to mask would be written in clear.
    shortest = "tK9#qZ!2wX7$pL4@"[:MIN_SECRET_LENGTH]
    settings = load_settings(None, {"DASHBOARD_TOKEN": shortest})
    path = setup_logging("INFO", tmp_path, secret_texts(settings), stderr=False)

    logging.getLogger("fleece.test").warning("token=%s", shortest)
    for handler in logging.getLogger().handlers:
        handler.flush()

    assert path is not None
    assert shortest not in path.read_text() and "token=***" in path.read_text()
    with pytest.raises(ConfigError, match="too short"):
        load_settings(None, {"DASHBOARD_TOKEN": shortest[:-1]})
