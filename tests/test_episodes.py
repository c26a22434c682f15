"""Episodes as tasks: `--workers N` runs the sequential run's episodes, in its order."""

import argparse
import csv

import pytest

from mimpc.cli import main
from mimpc.commands.parallel import executor_from_args
from mimpc.episodes import EpisodeTask, run_rollouts
from mimpc.executors import make_executor
from mimpc.problems import thermal_tank


def _costs(folder):
    with open(folder / "miqp" / "episodes.csv") as f:
        return [(row["seed"], row["steps"], float(row["cumulative_cost"])) for row in csv.DictReader(f)]


def test_rollout_workers_give_the_sequential_episodes(tmp_path):
    args = [
        "rollout",
        "--env",
        "thermal_tank",
        "--set",
        "horizon=6",
        "--episodes",
        "3",
        "--seed",
        "2",
        "--max-steps",
        "5",
        "--no-plot",
        "--no-progress",
    ]
    assert main(args + ["--out", str(tmp_path / "seq")]) == 0
    assert main(args + ["--out", str(tmp_path / "par"), "--workers", "2"]) == 0
    seq, par = _costs(tmp_path / "seq"), _costs(tmp_path / "par")
    assert [s for s, _, _ in seq] == ["2", "3", "4"]
    assert [(s, n) for s, n, _ in seq] == [(s, n) for s, n, _ in par]
    assert [c for _, _, c in par] == pytest.approx([c for _, _, c in seq], rel=1e-12)


def test_run_rollouts_checks_its_arguments():
    # two steps an episode: duplicate names are found once the episodes have run
    task = EpisodeTask(thermal_tank(horizon=4), "mimpc/ThermalTank-v0", "miqp", max_steps=2)
    with pytest.raises(ValueError, match="episodes"):
        run_rollouts([task], 0, 0, make_executor("local"))
    with pytest.raises(ValueError, match="distinct"):
        run_rollouts([task, task], 1, 0, make_executor("local"), progress=False)
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        executor_from_args(argparse.Namespace(executor="local", workers=0, ray_address=None))
    with pytest.raises(ValueError, match="--ray-address needs --executor ray"):
        executor_from_args(argparse.Namespace(executor="local", workers=1, ray_address="host:6379"))


@pytest.mark.slow
def test_evaluate_workers_give_the_sequential_rows(tmp_path):
    import json

    from mimpc.generation.generate import GenerationConfig, generate

    data = generate(
        thermal_tank(), tmp_path / "data", GenerationConfig(samples=40, seed=2, units_per_shard=40), progress=False
    )
    from pathlib import Path

    import mimpc

    shipped = Path(mimpc.__file__).parent / "pretrained" / "thermal_tank"
    ckpts = [str(shipped / "sl.pt"), str(shipped / "lpae.pt")]
    rows = {}
    for workers in ("1", "2"):
        out = tmp_path / f"eval{workers}"
        assert (
            main(
                [
                    "evaluate",
                    "--checkpoint",
                    *ckpts,
                    "--data",
                    str(data.path),
                    "--split",
                    "train",
                    "--workers",
                    workers,
                    "--out",
                    str(out),
                    "--no-plot",
                ]
            )
            == 0
        )
        rows[workers] = json.loads((out / "evaluation.json").read_text())["rows"]
    for a, b in zip(rows["1"], rows["2"]):
        a.pop("batched_seconds_per_instance"), b.pop("batched_seconds_per_instance")
        assert a == b
    assert [r["method"] for r in rows["2"]] == ["sl", "lpae"]
