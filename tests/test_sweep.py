"""`mimpc sweep`: the grid, one run per point with its own folder, one summary table."""

import json

import pytest

from mimpc.cli import main
from mimpc.commands.sweep_grid import grid_points, parse_grid, parse_seeds, point_name


def test_seed_and_grid_parsing():
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("3-5,9") == [3, 4, 5, 9]
    grid = parse_grid(["horizon=10,20", "preset=paper,authors", "obstacles=(((1.0, -1.0), 0.2, 0.25),)"])
    assert grid == {"horizon": [10, 20], "preset": ["paper", "authors"], "obstacles": [(((1.0, -1.0), 0.2, 0.25),)]}
    points = grid_points([0, 1], {"horizon": [10, 20]})
    assert points == [
        {"seed": 0, "horizon": 10},
        {"seed": 1, "horizon": 10},
        {"seed": 0, "horizon": 20},
        {"seed": 1, "horizon": 20},
    ]
    assert point_name(points[2]) == "horizon=20_seed=0"
    for bad, match in (
        (["horizon"], "FIELD=VALUE"),
        (["horizon=1,1"], "distinct"),
        (["horizon=1", "horizon=2"], "twice"),
    ):
        with pytest.raises(ValueError, match=match):
            parse_grid(bad)
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds("a,b")
    with pytest.raises(ValueError, match="distinct"):
        parse_seeds("1,1")


def test_grid_values_are_read_one_by_one():
    """One value that is not a literal made every value a string: `--set horizon=5,abc` ran its
    first point as horizon='5' and stopped with 'horizon must be a positive integer, got '5''."""
    assert parse_grid(["horizon=5,abc"]) == {"horizon": [5, "abc"]}
    assert parse_grid(["x=paper, (1, 2),[3, 4]"]) == {"x": ["paper", (1, 2), [3, 4]]}
    assert parse_grid(["x='a,b',c"]) == {"x": ["a,b", "c"]}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_set_value_stops_the_sweep_before_any_point_runs(tmp_path, capsys, workers):
    """`--set horizon=5,abc` ran the horizon=5 point before failing on 'abc'; with --workers 2 the
    bad point was retried twice as a runtime failure and the sweep exited 1, not 2 (bad input)."""
    argv = ["sweep", "compare", "--env", "thermal_tank", "--set", "horizon=5,abc", "--episodes", "1"]
    argv += ["--max-steps", "2", "--controllers", "miqp", "--no-plot", "--workers", workers]
    assert main([*argv, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "horizon must be a positive integer, got 'abc'" in err and "retry" not in err
    assert not list((tmp_path / "s").glob("*/comparison.json"))


def test_sweep_compare_runs_every_point_and_summarises(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "sweep",
                "compare",
                "--env",
                "thermal_tank",
                "--seeds",
                "0,1",
                "--set",
                "horizon=3,5",
                "--episodes",
                "1",
                "--max-steps",
                "4",
                "--no-plot",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "horizon" in table and "cost ratio" in table and len(table.strip().splitlines()) == 2 + 4
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [(r["seed"], r["horizon"], r["controller"]) for r in rows] == [
        (0, 3, "miqp"),
        (1, 3, "miqp"),
        (0, 5, "miqp"),
        (1, 5, "miqp"),
    ]
    for r in rows:  # each point ran its own problem and seeds, in its own folder
        summary = json.loads((out / f"horizon={r['horizon']}_seed={r['seed']}" / "miqp" / "summary.json").read_text())
        assert summary["problem_spec"]["config"]["horizon"] == r["horizon"]
        assert summary["episodes"][0]["seed"] == r["seed"]
        assert summary["summary"]["cumulative_cost_mean"] == pytest.approx(r["cost_mean"])


def test_sweep_rejects_options_it_sets(tmp_path):
    assert main(["sweep", "compare", "--env", "thermal_tank", "--seed", "3", "--out", str(tmp_path)]) == 2
