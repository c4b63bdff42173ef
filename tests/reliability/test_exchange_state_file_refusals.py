"""Specification of what the exchange's state file refuses: nothing read from it ever runs code.

The file is plain JSON read through the engine's declared types. Whatever is wrong with it (a
crafted pickle, objects naming code, values of the wrong type, a key too many, truncation, another
version or build) stops the start with ONE line naming the file and the reason (exit 2 from the
command), never a traceback, and nothing in it is ever called.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import KEY, SECRET
from state_file_helpers import fresh_exchange, restarted, saved_state

from fleece.errors import ConfigError
from fleece.exchange.state_file import StateFile

Tamper = Callable[[dict[str, Any]], None]


def refusal(state: Path) -> str:
    """The one line a fresh exchange refuses ``state`` with."""
    with pytest.raises(ConfigError) as refused:
        StateFile(state, fresh_exchange()).load()
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith(f"{state}: state: ")
    return line


def rewritten(state: Path, tamper: Tamper) -> Path:
    """``state`` with its JSON changed by ``tamper``."""
    data = json.loads(state.read_text())
    tamper(data)
    state.write_text(json.dumps(data))
    return state


def first_order(data: dict[str, Any]) -> dict[str, Any]:
    return next(iter(data["engine"]["_orders"].values()))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real state file (written once; each spec tampers with a copy)."""
    return saved_state(tmp_path_factory.mktemp("genuine")).read_bytes()


@pytest.fixture
def state(tmp_path: Path, genuine: bytes) -> Path:
    path = tmp_path / "exchange.state"
    path.write_bytes(genuine)
    return path


# ---------------------------------------------------------------- code in the file


class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"echo pwned > {self.marker}",))


def _short(text: str) -> bytes:
    return b"\x8c" + bytes([len(text)]) + text.encode()


def dotted_name_exploit(marker: Path) -> bytes:
    """A pickle calling ``os.system`` reached through a dotted name inside an allowed module
    (the walk around the old loader's allow-list)."""
    command = f"echo pwned > {marker}"
    target = _short("fleece.exchange.state_file") + _short("os.system")
    return b"\x80\x04" + target + b"\x93" + _short(command) + b"\x85R."


@pytest.mark.parametrize("craft", ["reduce", "dotted-name"])
def test_a_pickle_crafted_to_run_a_command_is_refused_and_never_run(
    tmp_path: Path, craft: str
) -> None:
    marker = tmp_path / "pwned"
    state = tmp_path / "exchange.state"
    crafted = {
        "reduce": lambda: pickle.dumps({"version": 1, "engine": _Boom(marker)}),
        "dotted-name": lambda: dotted_name_exploit(marker),
    }[craft]()
    state.write_bytes(crafted)

    line = refusal(state)

    assert "pickle" in line
    assert not marker.exists()


def test_the_command_refuses_a_crafted_state_file_with_one_line_and_exit_2(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    state = tmp_path / "exchange.state"
    state.write_bytes(dotted_name_exploit(marker))
    argv = [sys.executable, "-m", "fleece.exchange", "--synthetic", "--symbols", "SPY"]
    argv += ["--speed", "0", "--port", "0", "--state", str(state)]
    env = os.environ | {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}

    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)

    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert str(state) in done.stderr
    assert "Traceback" not in done.stderr
    assert not marker.exists()


# ---------------------------------------------------------------- JSON that is not the engine's


def _replace_ledger_with_an_object_naming_code(data: dict[str, Any]) -> None:
    data["engine"]["_ledger"] = {"py/object": "os.system", "py/reduce": ["echo pwned"]}


def _add_a_key_to_an_order(data: dict[str, Any]) -> None:
    first_order(data)["__class__"] = "subprocess.Popen"


def _drop_the_event_heap(data: dict[str, Any]) -> None:
    del data["engine"]["_events"]


def _write_a_quantity_as_text(data: dict[str, Any]) -> None:
    first_order(data)["qty"] = "10"


def _write_cash_as_a_boolean(data: dict[str, Any]) -> None:
    data["engine"]["_ledger"]["_cash"] = True


def _invent_an_order_status(data: dict[str, Any]) -> None:
    first_order(data)["status"] = "hacked"


def _write_a_naive_timestamp(data: dict[str, Any]) -> None:
    data["now"] = "2024-11-26T14:35:30"


def _cut_the_random_generator_short(data: dict[str, Any]) -> None:
    data["engine"]["_ids"]["_rng"][1] = data["engine"]["_ids"]["_rng"][1][:10]


def _write_the_sequence_as_a_call(data: dict[str, Any]) -> None:
    data["engine"]["_seq"] = "itertools.count(1)"


def _open_an_order_the_book_does_not_hold(data: dict[str, Any]) -> None:
    data["engine"]["_open"] = {"no-such-order": None}


def _count_requests_in_text(data: dict[str, Any]) -> None:
    data["counters"]["requests"] = {"GET /v2/account": "many"}


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_replace_ledger_with_an_object_naming_code, "engine._ledger: unexpected key 'py/object'"),
        (_add_a_key_to_an_order, "unexpected key '__class__'"),
        (_drop_the_event_heap, "engine: missing key '_events'"),
        (_write_a_quantity_as_text, ".qty: expected an integer, got a string"),
        (_write_cash_as_a_boolean, "engine._ledger._cash: expected an integer, got a boolean"),
        (_invent_an_order_status, "status: not a valid OrderStatus: 'hacked'"),
        (_write_a_naive_timestamp, "now: timestamp without a timezone"),
        (_cut_the_random_generator_short, "engine._ids._rng: expected 625 words"),
        (_write_the_sequence_as_a_call, "engine._seq: expected an integer"),
        (_open_an_order_the_book_does_not_hold, "no-such-order"),
        (_count_requests_in_text, "counters['requests']"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else "",
)
def test_a_tampered_state_file_is_refused_in_one_line_naming_the_value(
    state: Path, tamper: Tamper, named: str
) -> None:
    line = refusal(rewritten(state, tamper))

    assert "invalid state file" in line
    assert named in line


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe not utf-8", "not JSON"),
        (b"[" * 200_000 + b"]" * 200_000, "not JSON"),
        (b'{"format": "fleece-exchange-state", "version": 1' + b"9" * 5000 + b"}", "not JSON"),
        (b"[]", "not an exchange state file"),
        (b'{"format": "fleece-exchange-state", "format": "x"}', "given twice"),
    ],
    ids=["empty", "not-utf8", "nested-200000-deep", "5000-digit-number", "a-list", "repeated-key"],
)
def test_a_file_that_is_not_a_state_file_is_refused_in_one_line(
    tmp_path: Path, text: bytes, reason: str
) -> None:
    state = tmp_path / "exchange.state"
    state.write_bytes(text)

    assert reason in refusal(state)


def test_a_truncated_state_file_is_refused_in_one_line(state: Path) -> None:
    state.write_bytes(state.read_bytes()[:100])

    assert "unreadable state file: not JSON" in refusal(state)


def test_a_state_file_from_a_newer_fleece_is_refused_by_its_version(state: Path) -> None:
    line = refusal(rewritten(state, lambda data: data.update(version=3)))

    assert "state file format 3 is newer than this fleece reads (2)" in line


def test_a_state_file_from_another_build_of_the_engine_is_refused_by_its_layout(
    state: Path,
) -> None:
    line = refusal(rewritten(state, lambda data: data.update(layout="0" * 16)))

    assert "written by another build of the exchange" in line


def test_an_untouched_state_file_is_restored(state: Path) -> None:
    with restarted(state) as server:
        assert server.restored
        assert server.exchange.engine.order_count == 4


# ---------------------------------------------------------------- any value anywhere

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
        st.sampled_from(["new", "filled", "buy", "2024-11-26T14:35:30+00:00", "1e400", "NaN"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (object keys and list indexes)."""
    inner: list[tuple[Any, ...]] = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            inner += _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):  # the RNG's 625 words add nothing new
            inner += _places(item, (*path, index))
    return inner


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(where=st.data(), replacement=json_values)
def test_any_value_anywhere_in_a_state_file_restores_or_is_refused_in_one_line(
    tmp_path: Path, genuine: bytes, where: st.DataObject, replacement: Any
) -> None:
    data = json.loads(genuine)
    path = where.draw(st.sampled_from(_places(data)[1:]))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = replacement
    state = tmp_path / "exchange.state"
    state.write_text(json.dumps(data))

    try:
        StateFile(state, fresh_exchange()).load()
    except ConfigError as refused:
        assert "\n" not in str(refused)
