"""The sweep on a Dask LocalCluster: the same results as one by one, failures kept with params."""

from __future__ import annotations

from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from sweep_helpers import (
    FAILING_FAST,
    axes,
    die_when_fast_is_4,
    fail_when_fast_is_4,
    one_by_one,
    spec,
    tiny_market,
    user_strategy_config,
)

from fleece.sweep.axes import build_axes
from fleece.sweep.executor import (
    DaskExecutor,
    SerialExecutor,
    SweepError,
    check_strategy,
    check_workers,
)
from fleece.sweep.sweep import SweepSpec, plan_sweep, run_sweep
from fleece.sweep.walkforward import WalkForward


def test_a_sweep_on_the_cluster_gives_exactly_the_results_of_running_each_backtest_alone(
    dask_client: Client,
) -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec())

    result = run_sweep(plan, DaskExecutor(dask_client, market))

    assert [o.spec for o in result.outcomes] == list(plan.first_round)
    for outcome in result.outcomes:
        assert outcome.ok, outcome.error
        assert outcome.stats == one_by_one(market, outcome.spec)


def test_a_walk_forward_sweep_on_the_cluster_equals_the_same_sweep_in_process(
    dask_client: Client,
) -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(walk_forward="2:1"))

    on_dask = run_sweep(plan, DaskExecutor(dask_client, market))
    serial = run_sweep(plan, SerialExecutor(market))

    assert [(o.spec, o.stats) for o in on_dask.outcomes] == [
        (o.spec, o.stats) for o in serial.outcomes
    ]
    assert [w.chosen.spec for w in on_dask.windows if w.chosen] == [
        w.chosen.spec for w in serial.windows if w.chosen
    ]
    assert on_dask.out_of_sample is not None and serial.out_of_sample is not None
    assert on_dask.out_of_sample.equity.tolist() == serial.out_of_sample.equity.tolist()


def test_a_task_that_raises_is_reported_with_its_parameters_and_the_sweep_goes_on(
    dask_client: Client,
) -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(axes(fast=(3, FAILING_FAST))))

    result = run_sweep(plan, DaskExecutor(dask_client, market, fail_when_fast_is_4))

    failed = [o for o in result.outcomes if not o.ok]
    assert {o.spec.params.value("fast") for o in failed} == {FAILING_FAST}
    assert len(failed) == 4
    for outcome in failed:
        assert outcome.error is not None
        assert outcome.error.startswith("RuntimeError: engine exploded on fast=4")
    finished = [o for o in result.outcomes if o.ok]
    assert len(finished) == 4
    assert all(o.stats == one_by_one(market, o.spec) for o in finished)


def test_a_task_for_a_symbol_without_bars_fails_alone(dask_client: Client) -> None:
    market = tiny_market()
    grid = axes(fast=(3,), medium=(8,), slow=(20,), sets=(("SPY",), ("SPY", "XYZ")))
    plan = plan_sweep(market, spec(grid))

    result = run_sweep(plan, DaskExecutor(dask_client, market))

    assert [o.ok for o in result.outcomes] == [True, False]
    assert result.failures[0].spec.params.symbols == ("SPY", "XYZ")
    assert "DataError: no bars for XYZ" in (result.failures[0].error or "")


def test_the_bars_are_sent_to_each_worker_once_for_all_tasks(dask_client: Client) -> None:
    market = tiny_market()
    executor = DaskExecutor(dask_client, market)
    plan = plan_sweep(market, spec())

    executor.run(plan.first_round)
    executor.run(plan.first_round)

    bars = executor.bars
    holders = dask_client.who_has([bars])[bars.key]
    assert len(holders) == len(dask_client.scheduler_info()["workers"]) == 2
    # And they stay there for the rounds to come: Dask's memory manager, on by default, would
    # drop all copies but one within seconds (so a slow machine saw one worker hold the bars).
    assert not dask_client.amm.running()


def test_progress_is_told_once_per_task(dask_client: Client) -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(walk_forward="3:1"))
    seen: list[int] = []

    result = run_sweep(plan, DaskExecutor(dask_client, market), lambda o: seen.append(o.spec.id))

    assert sorted(seen) == [o.spec.id for o in result.outcomes]
    assert len(seen) == plan.task_count


def test_the_workers_are_checked_for_fleece(dask_client: Client) -> None:
    assert check_workers(dask_client) == 2


def test_outcomes_come_back_in_task_order_whatever_finishes_first(dask_client: Client) -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(axes(fast=(2, 3, 5, 7), medium=(8, 12), slow=(20, 30))))

    outcomes = DaskExecutor(dask_client, market).run(plan.first_round)

    assert [o.spec.id for o in outcomes] == list(range(len(plan.first_round)))


def test_a_task_whose_worker_dies_is_reported_with_its_parameters(dask_client: Client) -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(axes(fast=(3, FAILING_FAST), medium=(8,), slow=(20,))))

    result = run_sweep(plan, DaskExecutor(dask_client, market, die_when_fast_is_4))

    assert [o.ok for o in result.outcomes] == [True, False]
    lost = result.failures[0]
    assert lost.spec.params.value("fast") == FAILING_FAST
    assert "KilledWorker" in (lost.error or "")
    dask_client.wait_for_workers(2)  # the nanny restarts the worker for the next tests


def test_a_cluster_without_workers_is_refused_in_one_line() -> None:
    empty = LocalCluster(n_workers=0, processes=False, dashboard_address=None)
    with empty, Client(empty) as client, pytest.raises(SweepError, match="no Dask worker joined"):
        check_workers(client, timeout=0.2)


def test_a_strategy_from_a_users_file_sweeps_on_the_workers_exactly_as_in_process(
    dask_client: Client, tmp_path: Path
) -> None:
    # The class lives in a module only this process loaded: it must travel by value (name,
    # parameters, file) and be found again on each worker, never be pickled by reference.
    trading = user_strategy_config(tmp_path)
    market = tiny_market()
    axes = build_axes(trading, params=["window=3,6", "threshold=0,0.001"])
    sweep = SweepSpec(axes=axes, trading=trading, walk_forward=WalkForward(2, 1))
    plan = plan_sweep(market, sweep)
    check_strategy(dask_client, trading.strategy.spec)

    on_dask = run_sweep(plan, DaskExecutor(dask_client, market))
    serial = run_sweep(plan, SerialExecutor(market))

    assert on_dask.failures == ()
    assert [(o.spec, o.stats) for o in on_dask.outcomes] == [
        (o.spec, o.stats) for o in serial.outcomes
    ]
    assert sum(o.stats.trades for o in on_dask.phase("grid") if o.stats) > 0
    assert {o.spec.config.strategy.cls.name for o in on_dask.outcomes} == {"momentum"}


def test_a_worker_without_the_strategy_file_stops_the_sweep_in_one_line(
    dask_client: Client, tmp_path: Path
) -> None:
    trading = user_strategy_config(tmp_path)
    (tmp_path / "momentum.py").unlink()  # as on a worker machine without the file

    with pytest.raises(SweepError) as refused:
        check_strategy(dask_client, trading.strategy.spec)

    message = str(refused.value)
    assert "cannot load the strategy momentum.py:Momentum (no such file" in message
    assert "\n" not in message
