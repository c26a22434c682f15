"""Redraw the figures of a results folder written by `mimpc rollout` or `mimpc compare`."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mimpc.commands.argtypes import existing_dir
    p.add_argument("results", type=existing_dir, help="a results folder (e.g. results/compare_robot_nav)")


def run(args: argparse.Namespace) -> int:
    from mimpc import plots

    for path in plots.redraw(args.results):
        print(f"figure: {path}")  # the result of this command
    return 0
