"""A configured strategy travels by value (pickle, Dask): found again where it lands."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleece.strategy.registry import StrategySpec, resolve

STRATEGY = textwrap.dedent(
    """
    from fleece.strategy import Strategy, StrategyParams, nan_series


    class Waits(Strategy):
        name = "waits"

        class Params(StrategyParams):
            wait: int = 3

        @property
        def warmup_minutes(self):
            return self.params.wait

        def on_minute(self, bar, ctx):
            return None

        def indicators(self, series):
            return {"nothing": nan_series(len(series))}
    """
)


@pytest.fixture
def file_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StrategySpec:
    """``waits.py:Waits`` resolved from a relative folder, then the working directory moved."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "waits.py").write_text(STRATEGY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    spec = resolve("waits.py:Waits", {"wait": 7}, base=Path("mine"))
    monkeypatch.chdir(tmp_path / "mine")
    return spec


def test_a_pickled_spec_holds_no_reference_to_the_users_module(file_spec: StrategySpec) -> None:
    data = pickle.dumps(file_spec)

    assert b"fleece_user_strategy" not in data
    back = pickle.loads(data)
    assert back == file_spec
    assert back.build().warmup_minutes == 7


def test_a_spec_is_found_again_in_another_process_from_another_folder(
    file_spec: StrategySpec, tmp_path: Path
) -> None:
    script = (
        "import pickle, sys; spec = pickle.loads(sys.stdin.buffer.read()); "
        "print(spec.cls.name, spec.build().warmup_minutes, spec.origin)"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(file_spec),
        capture_output=True,
        cwd="/",
        check=True,
        timeout=120,
    )

    assert done.stdout.decode().split() == ["waits", "7", str(tmp_path / "mine" / "waits.py")]


def test_a_built_in_spec_equals_its_round_trip() -> None:
    spec = resolve("donchian_breakout", {"entry": 30})

    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec != resolve("donchian_breakout", {"entry": 31})
