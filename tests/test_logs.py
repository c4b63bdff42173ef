"""Logging: secrets never reach a log line, whatever code logged them."""

import logging
from pathlib import Path

from fleece.logs import setup_logging

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
