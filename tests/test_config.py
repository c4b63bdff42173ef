"""Specification of the configuration: what is accepted, and the one line for what is refused."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from config_helpers import refusal_of
from fleece.backtest.result import BacktestConfig
from fleece.config import (
    ENV_NAMES,
    KEYS_HINT,
    Settings,
    TradingConfig,
    load_config,
    load_settings,
    load_trading_config,
)
from fleece.config_sections import OrdersConfig
from fleece.errors import ConfigError, LiveTradingRefused
from fleece.models import STALE_ORDER_MINUTES
from fleece.paper_lock import DEFAULT_TIMEOUT_SECONDS

REPO = Path(__file__).resolve().parents[1]

SEED_SYMBOLS = (
    "AAPL, MSFT, GOOGL, NVDA, QQQ, SPY, TSLA, AMD, AMZN, META, NFLX, UBER, COIN, MSTR, ARKK, IWM, "
    "EEM, GLD, TLT, USO, RTX, LMT, NOC, BA, GD, GOLD, SLV, PAAS, HL, SCCO, FCX"
)
SEED_YAML = f"""\
symbols:
  mode: explicit
  list: [{SEED_SYMBOLS}]
session_policy: regular_only
risk:
  max_position_pct: 0.10
  max_daily_loss_pct: 0.05
  max_trades_per_day: 20
  max_concurrent_positions: 10
strategy:
  name: sma_crossover
"""

PAPER_KEYS = {"ALPACA_API_KEY": "PKTESTKEY1234567890", "ALPACA_SECRET_KEY": "s3cr3t-s3cr3t-s3cr3t"}


# --------------------------------------------------------------------------- builders


def write(tmp_path: Path, text: str, name: str = "trading.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal(**sections: Any) -> dict[str, Any]:
    """A valid trading config as a mapping, with ``sections`` merged over it."""
    config: dict[str, Any] = {"symbols": {"mode": "explicit", "list": ["AAPL", "MSFT"]}}
    config.update(sections)
    return config


def yaml_of(tmp_path: Path, mapping: dict[str, Any]) -> Path:
    return write(tmp_path, yaml.safe_dump(mapping))


def settings_refusal(environ: dict[str, str], env_file: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(env_file, environ)
    return info.value


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A bot directory holding config/trading.yaml, as the current directory."""
    (tmp_path / "config").mkdir()
    write(tmp_path / "config", SEED_YAML)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# --------------------------------------------------------------------------- trading.yaml: valid


def test_seed_trading_yaml_is_valid_and_gets_runtime_defaults(tmp_path: Path) -> None:
    config = load_trading_config(write(tmp_path, SEED_YAML))

    assert len(config.tickers) == 31
    assert config.tickers[:3] == ("AAPL", "MSFT", "GOOGL")
    assert config.risk.max_position_pct == 0.10
    assert config.risk.circuit_breaker_failures == 5
    assert config.strategy.name == "sma_crossover"
    assert config.strategy.spec.params.model_dump() == {"fast": 10, "medium": 30, "slow": 90}
    assert config.data.feed == "iex"
    assert config.data.poll_interval_seconds == 5.0
    assert config.orders.stale_order_minutes == 15
    assert config.orders.time_in_force == "day"
    assert config.shutdown.cancel_open_orders and config.shutdown.close_positions == "own"
    assert config.shutdown.grace_seconds == 25.0
    assert config.housekeeping.heartbeat_seconds == 60.0
    assert config.housekeeping.equity_snapshot_seconds == 60.0
    assert config.housekeeping.bar_retention_days == 30


def test_committed_trading_yaml_holds_the_seed_values_and_every_section() -> None:
    committed = load_trading_config(REPO / "config" / "trading.yaml")
    seed = yaml.safe_load(SEED_YAML)

    assert list(committed.tickers) == seed["symbols"]["list"]
    assert committed.risk.max_trades_per_day == 20
    assert committed.risk.max_concurrent_positions == 10
    raw = yaml.safe_load((REPO / "config" / "trading.yaml").read_text())
    assert set(raw) == set(TradingConfig.model_fields)


def test_the_warmup_is_the_strategys_own_unless_set(tmp_path: Path) -> None:
    config = load_trading_config(yaml_of(tmp_path, minimal(strategy={"slow": 120})))

    assert config.data.warmup_bars is None
    assert config.strategy.spec.warmup == 120


def test_explicit_warmup_is_kept(tmp_path: Path) -> None:
    config = load_trading_config(yaml_of(tmp_path, minimal(data={"warmup_bars": 200})))

    assert config.data.warmup_bars == 200


def test_a_percentage_of_exactly_one_is_accepted(tmp_path: Path) -> None:
    config = load_trading_config(yaml_of(tmp_path, minimal(risk={"max_position_pct": 1})))

    assert config.risk.max_position_pct == 1.0


@pytest.mark.parametrize(
    ("written", "read"), [(True, "own"), (False, "none"), ("own", "own"), ("all", "all")]
)
def test_close_positions_is_own_all_or_none_and_the_old_booleans_read_safely(
    tmp_path: Path, written: object, read: str
) -> None:
    config = load_trading_config(yaml_of(tmp_path, minimal(shutdown={"close_positions": written})))

    assert config.shutdown.close_positions == read


def test_max_leverage_defaults_to_no_borrowing_and_is_bounded(tmp_path: Path) -> None:
    default = load_trading_config(yaml_of(tmp_path, minimal()))
    refused = refusal_of(yaml_of(tmp_path, minimal(risk={"max_leverage": 5})))

    assert default.risk.max_leverage == 1.0
    assert refused.key == "risk.max_leverage"


def test_share_class_tickers_are_accepted(tmp_path: Path) -> None:
    config = load_trading_config(yaml_of(tmp_path, minimal(symbols={"list": ["BRK.B", "F"]})))

    assert config.tickers == ("BRK.B", "F")


def test_trading_config_is_frozen(tmp_path: Path) -> None:
    config = load_trading_config(yaml_of(tmp_path, minimal()))

    with pytest.raises(ValueError, match="frozen"):
        config.risk.max_position_pct = 0.5


# --------------------------------------------------------------------------- trading.yaml: refused


def test_misspelt_key_is_refused_with_the_closest_valid_name(tmp_path: Path) -> None:
    path = yaml_of(tmp_path, minimal(risk={"max_postion_pct": 0.1}))

    error = refusal_of(path)

    assert (error.source, error.key) == (str(path), "risk.max_postion_pct")
    assert "unknown key 'max_postion_pct'" in error.reason
    assert "did you mean 'max_position_pct'?" in error.reason


def test_misspelt_section_is_reported_before_the_missing_one(tmp_path: Path) -> None:
    path = write(tmp_path, "symbol:\n  list: [AAPL]\n")

    error = refusal_of(path)

    assert error.key == "symbol"
    assert "did you mean 'symbols'?" in error.reason


def test_unknown_key_without_a_close_match_lists_the_valid_keys(tmp_path: Path) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(orders={"zzz": 1})))

    assert "stale_order_minutes" in error.reason and "time_in_force" in error.reason


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.01, 10, 5])
def test_percentages_outside_zero_to_one_are_refused(tmp_path: Path, value: float) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(risk={"max_daily_loss_pct": value})))

    assert error.key == "risk.max_daily_loss_pct"
    assert "(0, 1]" in error.reason


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("risk", "max_trades_per_day"),
        ("risk", "max_concurrent_positions"),
        ("risk", "circuit_breaker_failures"),
        ("strategy", "fast"),
        ("orders", "stale_order_minutes"),
        ("housekeeping", "bar_retention_days"),
        ("housekeeping", "heartbeat_seconds"),
        ("data", "poll_interval_seconds"),
        ("shutdown", "grace_seconds"),
    ],
)
@pytest.mark.parametrize("value", [0, -3])
def test_zero_or_negative_counts_are_refused(
    tmp_path: Path, section: str, key: str, value: int
) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(**{section: {key: value}})))

    assert error.key == f"{section}.{key}"
    assert "greater than 0" in error.reason


def test_negative_warmup_is_refused(tmp_path: Path) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(data={"warmup_bars": -1})))

    assert error.key == "data.warmup_bars"


def test_empty_symbol_list_is_refused(tmp_path: Path) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(symbols={"list": []})))

    assert error.key == "symbols.list"
    assert "empty" in error.reason


def test_duplicate_symbols_are_refused(tmp_path: Path) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(symbols={"list": ["AAPL", "MSFT", "AAPL"]})))

    assert error.key == "symbols.list"
    assert "duplicate symbol 'AAPL'" in error.reason


@pytest.mark.parametrize("ticker", ["aapl", "AA PL", "TOOLONG", "", "$SPY", "BTC/USD"])
def test_invalid_symbol_format_is_refused_naming_its_position(tmp_path: Path, ticker: str) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(symbols={"list": ["AAPL", ticker]})))

    assert error.key == "symbols.list[1]"
    assert "invalid symbol" in error.reason


def test_a_symbol_that_is_not_text_is_refused(tmp_path: Path) -> None:
    error = refusal_of(write(tmp_path, "symbols:\n  list: [AAPL, 123]\n"))

    assert error.key == "symbols.list[1]"
    assert "valid string" in error.reason


@pytest.mark.parametrize(
    ("sections", "key", "got"),
    [
        ({"session_policy": "extended_hours"}, "session_policy", "extended_hours"),
        ({"strategy": {"name": "rsi"}}, "strategy.name", "rsi"),
        ({"symbols": {"mode": "top_movers", "list": ["AAPL"]}}, "symbols.mode", "top_movers"),
        ({"data": {"feed": "otc"}}, "data.feed", "otc"),
        ({"orders": {"time_in_force": "fok"}}, "orders.time_in_force", "fok"),
    ],
)
def test_unknown_choices_are_refused_naming_the_allowed_one(
    tmp_path: Path, sections: dict[str, Any], key: str, got: str
) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(**sections)))

    assert error.key == key
    assert f"(got '{got}')" in error.reason


@pytest.mark.parametrize(
    "windows", [(30, 30, 90), (10, 90, 30), (90, 30, 10), (10, 30, 30)], ids=str
)
def test_windows_must_be_fast_below_medium_below_slow(
    tmp_path: Path, windows: tuple[int, int, int]
) -> None:
    fast, medium, slow = windows
    strategy = {"fast": fast, "medium": medium, "slow": slow}

    error = refusal_of(yaml_of(tmp_path, minimal(strategy=strategy)))

    assert error.key == "strategy"
    assert "fast < medium < slow" in error.reason


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"risk": {"max_trades_per_day": "20"}}, "risk.max_trades_per_day"),
        ({"risk": {"max_trades_per_day": 20.5}}, "risk.max_trades_per_day"),
        ({"risk": {"max_trades_per_day": True}}, "risk.max_trades_per_day"),
        ({"risk": {"max_position_pct": "10%"}}, "risk.max_position_pct"),
        ({"shutdown": {"close_positions": "sure"}}, "shutdown.close_positions"),
        ({"risk": [1, 2]}, "risk"),
        ({"risk": None}, "risk"),
        ({"symbols": {"list": "AAPL"}}, "symbols.list"),
        ({"data": {"poll_interval_seconds": math.inf}}, "data.poll_interval_seconds"),
    ],
)
def test_wrong_types_are_refused(tmp_path: Path, sections: dict[str, Any], key: str) -> None:
    error = refusal_of(yaml_of(tmp_path, minimal(**sections)))

    assert error.key == key


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"risk": {"max_trades_per_day": "x" * 300}}, "risk.max_trades_per_day"),
        ({"strategy": {"name": "sma_crossover", "fast": "x" * 300}}, "strategy.fast"),
    ],
)
def test_a_strategy_parameter_is_refused_in_the_words_of_any_other_key(
    tmp_path: Path, sections: dict[str, Any], key: str
) -> None:
    # The strategy's parameters are checked by its own model, but the line reads the same:
    # the value cut short, the reason lower-case (a 300-character value once filled the line).
    error = refusal_of(yaml_of(tmp_path, minimal(**sections)))

    assert error.key == key
    assert error.reason.startswith("input should be a valid integer")
    assert error.reason.endswith(f"(got '{'x' * 56}...)")


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "symbols:\n  list: [AAPL, MSFT\nrisk:\n  max_position_pct: 0.1\n")

    error = refusal_of(path)

    assert error.key.startswith("line ")
    assert "malformed YAML" in error.reason


def test_bad_indentation_names_its_line(tmp_path: Path) -> None:
    error = refusal_of(write(tmp_path, "symbols:\n  list: [AAPL]\n risk: 1\n"))

    assert error.key.startswith("line 3,")


def test_a_key_given_twice_is_refused_naming_the_second_line(tmp_path: Path) -> None:
    text = "symbols:\n  list: [AAPL]\nrisk:\n  max_trades_per_day: 5\n  max_trades_per_day: 50\n"

    error = refusal_of(write(tmp_path, text))

    assert error.key == "line 5, column 3"
    assert "duplicate key 'max_trades_per_day'" in error.reason


def test_an_impossible_date_is_refused_naming_its_line(tmp_path: Path) -> None:
    error = refusal_of(write(tmp_path, "symbols:\n  list: [AAPL]\nwhen: 2024-02-30\n"))

    assert error.key.startswith("line 3,")
    assert "invalid date" in error.reason


def test_python_tags_are_refused_not_executed(tmp_path: Path) -> None:
    error = refusal_of(write(tmp_path, "symbols: !!python/object/apply:os.system ['true']\n"))

    assert "malformed YAML" in error.reason


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    error = refusal_of(path)

    assert (error.source, error.key) == (str(path), "(file)")
    assert "not found" in error.reason


def test_a_directory_instead_of_a_file_is_refused(tmp_path: Path) -> None:
    error = refusal_of(tmp_path)

    assert "cannot read" in error.reason


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trading.yaml"
    path.write_bytes(b"symbols: \xff\xfe\n")

    error = refusal_of(path)

    assert "cannot read" in error.reason


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "---\n"])
def test_an_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    error = refusal_of(write(tmp_path, text))

    assert error.reason == "the file is empty"


@pytest.mark.parametrize("text", ["- AAPL\n- MSFT\n", "just text\n", "42\n"])
def test_a_top_level_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    error = refusal_of(write(tmp_path, text))

    assert error.key == "(top level)"
    assert "expected a mapping" in error.reason


def test_the_error_message_reads_file_key_reason(tmp_path: Path) -> None:
    path = yaml_of(tmp_path, minimal(risk={"max_trades_per_day": 0}))

    error = refusal_of(path)

    assert str(error) == f"{path}: risk.max_trades_per_day: {error.reason}"


yaml_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(),
    st.sampled_from(["AAPL", "MSFT", "aapl", "explicit", "regular_only", "sma_crossover", "iex"]),
)
known_keys = st.sampled_from(
    sorted(
        {"list", "mode", "name", "fast", "medium", "slow", "feed", "max_position_pct"}
        | set(TradingConfig.model_fields)
    )
)
yaml_values = st.recursive(
    yaml_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(known_keys, st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)
yaml_mappings = st.one_of(
    st.dictionaries(st.one_of(known_keys, st.text(max_size=10)), yaml_values, max_size=6),
    st.builds(lambda extra: {**minimal(), **extra}, st.dictionaries(known_keys, yaml_values)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mapping=yaml_mappings)
def test_any_yaml_mapping_is_either_a_config_or_one_config_error(
    tmp_path_factory: pytest.TempPathFactory, mapping: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "trading.yaml"
    path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")

    try:
        config = load_trading_config(path)
    except ConfigError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(config, TradingConfig)


# --------------------------------------------------------------------------- environment


def test_defaults_when_nothing_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    s = load_settings(None, {})

    assert s.alpaca_api_key is None and s.alpaca_secret_key is None
    assert s.alpaca_paper is True and s.allow_live_trading is False
    assert (s.kill_switch, s.circuit_breaker_reset, s.dry_run) == (False, False, False)
    assert s.log_level == "INFO"
    assert s.fleece_mode == "paper" and not s.sim
    assert s.database_path == tmp_path / "data" / "trades.db"
    assert s.config_path == tmp_path / "config" / "trading.yaml"
    assert s.log_dir == tmp_path / "logs"
    assert (s.sim_speed, s.sim_seed, s.sim_days, s.sim_start, s.sim_data) == (
        300.0,
        0,
        1,
        None,
        None,
    )
    assert s.alpaca_base_url is None and s.alpaca_data_url is None and s.dashboard_token is None


def test_values_are_read_from_the_env_file(tmp_path: Path) -> None:
    env = write(tmp_path, "KILL_SWITCH=yes\nSIM_SEED=7\nSIM_START=2024-03-04\n", ".env")

    s = load_settings(env, {})

    assert s.kill_switch is True and s.sim_seed == 7 and s.sim_start == date(2024, 3, 4)
    assert s.source_of("SIM_SEED") == str(env)
    assert s.source_of("LOG_LEVEL") == "default"


def test_the_process_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env = write(tmp_path, "LOG_LEVEL=DEBUG\nDRY_RUN=true\n", ".env")

    s = load_settings(env, {"LOG_LEVEL": "warning"})

    assert s.log_level == "WARNING"
    assert s.dry_run is True
    assert s.source_of("LOG_LEVEL") == "environment"


def test_a_missing_env_file_is_fine(tmp_path: Path) -> None:
    s = load_settings(tmp_path / ".env", {"FLEECE_MODE": "sim"})

    assert s.sim


def test_empty_values_count_as_unset(tmp_path: Path) -> None:
    env = write(tmp_path, "ALPACA_BASE_URL=\nSIM_START=\nLOG_LEVEL=DEBUG\n", ".env")

    s = load_settings(env, {"LOG_LEVEL": ""})

    assert s.alpaca_base_url is None and s.sim_start is None
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("1", True),
        (" true ", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("NO", False),
        ("0", False),
    ],
)
def test_booleans_accept_true_false_one_zero_yes_no(text: str, expected: bool) -> None:
    assert load_settings(None, {"DRY_RUN": text}).dry_run is expected


@pytest.mark.parametrize("text", ["maybe", "on", "2", "y", "truee"])
def test_other_boolean_words_are_refused(text: str) -> None:
    error = settings_refusal({"KILL_SWITCH": text})

    assert (error.source, error.key) == ("environment", "KILL_SWITCH")
    assert "true/false/1/0/yes/no" in error.reason


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "LOUD"),
        ("SIM_SPEED", "-1"),
        ("SIM_SPEED", "0"),
        ("SIM_SPEED", "inf"),
        ("SIM_SPEED", "nan"),
        ("SIM_SPEED", "fast"),
        ("SIM_DAYS", "0"),
        ("SIM_DAYS", "1.5"),
        ("SIM_SEED", "seed"),
        ("SIM_START", "2024-1-2"),
        ("SIM_START", "2024-02-30"),
        ("SIM_START", "1700000000"),
        ("FLEECE_MODE", "backtest"),
    ],
)
def test_bad_environment_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    error = settings_refusal({name: value})

    assert (error.source, error.key) == ("environment", name)
    assert "\n" not in str(error)


def test_a_bad_value_from_the_env_file_names_the_file(tmp_path: Path) -> None:
    env = write(tmp_path, "LOG_LEVEL=LOUD\n", ".env")

    error = settings_refusal({}, env)

    assert str(error).startswith(f"{env}: LOG_LEVEL: ")
    assert "'LOUD'" in error.reason


def test_fleece_mode_live_is_refused_as_live_trading() -> None:
    with pytest.raises(LiveTradingRefused) as info:
        load_settings(None, {"FLEECE_MODE": "live"})

    assert info.value.key == "FLEECE_MODE"


def test_fleece_mode_is_case_insensitive() -> None:
    assert load_settings(None, {"FLEECE_MODE": " SIM "}).sim


def test_relative_paths_resolve_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {"DATABASE_PATH": "db/x.db", "CONFIG_PATH": "cfg.yaml", "SIM_DATA": "bars"}

    s = load_settings(None, environ)

    assert s.database_path == tmp_path / "db" / "x.db"
    assert s.config_path == tmp_path / "cfg.yaml"
    assert s.sim_data == tmp_path / "bars"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    s = load_settings(None, {"DATABASE_PATH": str(tmp_path / "t.db")})

    assert s.database_path == tmp_path / "t.db"


def test_a_misspelt_variable_in_the_env_file_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    env = write(tmp_path, "KILL_SWTICH=true\n", ".env")

    error = settings_refusal({}, env)

    assert (error.source, error.key) == (str(env), "KILL_SWTICH")
    assert "did you mean KILL_SWITCH?" in error.reason


def test_an_unknown_variable_with_our_prefix_is_refused(tmp_path: Path) -> None:
    env = write(tmp_path, "ALPACA_MODE=live\n", ".env")

    error = settings_refusal({}, env)

    assert error.key == "ALPACA_MODE"


def test_unrelated_variables_in_the_env_file_are_ignored(tmp_path: Path) -> None:
    env = write(tmp_path, "BOT_ROOT=/opt/bot\nTZ=UTC\nFLEECE_MODE=sim\n", ".env")

    assert load_settings(env, {}).sim


def test_a_malformed_env_line_is_refused_naming_the_line(tmp_path: Path) -> None:
    env = write(tmp_path, "LOG_LEVEL=INFO\nthis is not an assignment\n", ".env")

    error = settings_refusal({}, env)

    assert (error.source, error.key) == (str(env), "line 2")


def test_unrelated_process_variables_are_ignored() -> None:
    s = load_settings(None, {"PATH": "/bin", "ALPACA_SOMETHING": "x", "FLEECE_MODE": "sim"})

    assert s.sim


def test_secrets_are_hidden_in_the_settings_repr() -> None:
    s = load_settings(None, PAPER_KEYS)

    assert PAPER_KEYS["ALPACA_SECRET_KEY"] not in repr(s)
    assert PAPER_KEYS["ALPACA_API_KEY"] not in repr(s)


env_values = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    st.sampled_from(["true", "no", "1", "-1", "0", "nan", "inf", "300", "2024-01-02", "sim"]),
)


@settings(max_examples=150, deadline=None)
@given(environ=st.dictionaries(st.sampled_from(ENV_NAMES), env_values, max_size=6))
@example(environ={"DATABASE_PATH": "~0"})  # a user without a home: expanduser raises
def test_any_environment_is_either_settings_or_one_config_error(environ: dict[str, str]) -> None:
    try:
        load_settings(None, environ)
    except ConfigError as error:
        assert "\n" not in str(error)


# --------------------------------------------------------------------------- load_config


def test_paper_mode_without_keys_is_refused_with_a_hint(bot_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env_file=bot_dir / ".env", environ={})

    assert info.value.key == "ALPACA_API_KEY"
    assert info.value.source == str(bot_dir / ".env")
    assert KEYS_HINT in info.value.reason


def test_paper_mode_without_the_secret_is_refused(bot_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env_file=None, environ={"ALPACA_API_KEY": "PKX"})

    assert info.value.key == "ALPACA_SECRET_KEY"


def test_the_env_example_placeholders_are_refused_as_keys(bot_dir: Path) -> None:
    environ = {"ALPACA_API_KEY": "your_api_key_here", "ALPACA_SECRET_KEY": "your_secret_key_here"}

    with pytest.raises(ConfigError, match="placeholder"):
        load_config(env_file=None, environ=environ)


def test_sim_mode_needs_no_keys(bot_dir: Path) -> None:
    config = load_config(env_file=None, environ={"FLEECE_MODE": "sim"})

    assert config.settings.sim
    assert config.endpoints.local


def test_keys_can_be_waived_by_the_caller(bot_dir: Path) -> None:
    config = load_config(env_file=None, environ={}, require_keys=False)

    assert config.settings.alpaca_api_key is None


def test_load_config_reads_config_path_relative_to_the_bot_directory(bot_dir: Path) -> None:
    config = load_config(env_file=None, environ=PAPER_KEYS)

    assert config.config_path == bot_dir / "config" / "trading.yaml"
    assert len(config.trading.tickers) == 31
    assert config.endpoints.trading_url is None and not config.endpoints.local


def test_an_explicit_config_path_overrides_config_path(bot_dir: Path) -> None:
    other = yaml_of(bot_dir, minimal())

    config = load_config(env_file=None, environ=PAPER_KEYS, config_path=other)

    assert config.config_path == other
    assert config.trading.tickers == ("AAPL", "MSFT")


@pytest.mark.parametrize(
    ("name", "value"), [("ALPACA_PAPER", "false"), ("ALLOW_LIVE_TRADING", "true")]
)
def test_load_config_applies_the_paper_lock(bot_dir: Path, name: str, value: str) -> None:
    with pytest.raises(LiveTradingRefused) as info:
        load_config(env_file=None, environ={**PAPER_KEYS, name: value})

    assert info.value.key == name


def test_the_paper_lock_comes_before_the_missing_keys(bot_dir: Path) -> None:
    with pytest.raises(LiveTradingRefused):
        load_config(env_file=None, environ={"ALPACA_BASE_URL": "https://api.alpaca.markets"})


def test_a_bad_trading_yaml_fails_load_config_naming_the_file(bot_dir: Path) -> None:
    path = write(bot_dir / "config", "symbols:\n  list: []\n")

    with pytest.raises(ConfigError) as info:
        load_config(env_file=None, environ=PAPER_KEYS)

    assert info.value.source == "config/trading.yaml"
    assert path.exists()


def test_the_env_example_documents_every_setting() -> None:
    example = REPO / ".env.example"
    names = {
        line.split("=", 1)[0].strip()
        for line in example.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }

    assert names == {field.upper() for field in Settings.model_fields}


def test_the_alpaca_timeout_defaults_to_the_one_every_client_is_built_with() -> None:
    reliability = (REPO / "docs" / "reliability.md").read_text()
    example_env = (REPO / ".env.example").read_text()

    assert Settings().alpaca_timeout_seconds == DEFAULT_TIMEOUT_SECONDS
    assert f"| `ALPACA_TIMEOUT_SECONDS` | {DEFAULT_TIMEOUT_SECONDS:g} |" in reliability
    assert f"ALPACA_TIMEOUT_SECONDS={DEFAULT_TIMEOUT_SECONDS:g}\n" in example_env


def test_a_backtest_cancels_stale_orders_after_the_bots_default_minutes() -> None:
    # A backtest built without a trading config waits as long as the bot's default does.
    default = inspect.signature(BacktestConfig).parameters["stale_order_minutes"].default

    assert default == OrdersConfig().stale_order_minutes == STALE_ORDER_MINUTES
