"""The floors of a certified step (mimpc.bench.floors): the products they time have the network's own
shapes, DAQP's clock and the certificate's arithmetic are the ones the step uses, and
``step-latency --floors`` prints them. No timing is asserted, only structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch import nn

from mimpc.bench.floors import NetworkProducts, component_floors
from mimpc.bench.step_latency import held_out_thetas, print_floors
from mimpc.controllers import make_controller
from mimpc.problems import make_problem
from mimpc.problems.certify import PlanCertifier
from mimpc.qp.lean import LeanQP


@pytest.fixture(scope="module")
def tank():
    problem = make_problem("thermal_tank")
    return problem, held_out_thetas(problem, 6, None, seed=10_000)


def test_mlp_products_are_one_matrix_vector_product_per_layer():
    controller = make_controller("hybrid", make_problem("robot_nav"))
    policy = controller.policy
    linears = [m for m in policy.modules() if isinstance(m, nn.Linear)]
    products = NetworkProducts(policy, np.zeros(policy.n_theta))
    assert products.shapes == [((m.in_features,), (m.in_features, m.out_features)) for m in linears]
    products()  # runs


def test_temporal_products_cover_every_step_of_every_convolution(tank):
    problem, (thetas, _) = tank
    policy = make_controller("hybrid", problem).policy
    convs = [m for m in policy.modules() if isinstance(m, nn.Conv1d)]
    assert convs, "the shipped tank policy has a temporal encoder"
    products = NetworkProducts(policy, thetas[0])
    steps = policy.net.steps
    expected = [
        ((steps, m.in_channels * m.kernel_size[0]), (m.in_channels * m.kernel_size[0], m.out_channels)) for m in convs
    ]
    assert [s for s in products.shapes if len(s[0]) == 2] == expected


def test_component_floors_of_the_certified_tank_step(tank):
    problem, (thetas, episodes) = tank
    floors = component_floors(make_controller("hybrid+cert", problem), thetas, episodes)
    for key in ("network_floor_ms", "qp_floor_ms", "certificate_floor_ms"):
        assert math.isfinite(floors[key]) and floors[key] > 0, key
    assert floors["floor_ms"] == pytest.approx(
        floors["network_floor_ms"] + floors["qp_floor_ms"] + floors["certificate_floor_ms"]
    )
    with pytest.raises(ValueError, match="certified learned controllers"):
        component_floors(make_controller("hybrid", problem), thetas, episodes)


def test_daqp_clock_and_certificate_arithmetic_are_the_steps_own(tank):
    problem, (thetas, _) = tank
    controller = make_controller("hybrid+cert", problem)
    theta = thetas[0]
    delta = controller._policy(theta)
    lean = LeanQP(problem)
    inst = lean.instance(theta, delta)
    sol = lean.exact(inst)
    assert sol.optimal and 0 < sol.solver_seconds < 1
    x = lean.plan(inst, sol.w)
    certifier = PlanCertifier(problem)
    v = np.concatenate((x, delta, theta, np.ones(1)))
    assert certifier.worst(v) == pytest.approx(certifier.check(x, delta, theta).max_violation, abs=0)
    bad = x.copy()
    bad[problem.layout.state_index[1, 0]] += 0.5  # breaks the dynamics row of step 1
    v_bad = np.concatenate((bad, delta, theta, np.ones(1)))
    worst = certifier.worst(v_bad)
    assert worst == pytest.approx(certifier.check(bad, delta, theta).max_violation) and worst >= 0.5 - 1e-9
    assert lean.relaxed(inst, sol).solver_seconds is None  # only the exact route reads DAQP's clock


def test_step_latency_prints_the_floors(cli, tank, capsys):
    code, out, _ = cli(
        ["bench", "step-latency", "--env", "thermal_tank", "--method", "hybrid+cert", "--n", "3", "--floors"]
    )
    assert code == 0
    assert "sum of floors ms" in out and "exact median / floors" in out
    problem, (thetas, episodes) = tank
    print_floors([make_controller("hybrid", problem)], [{"median_ms": 1.0}], thetas, episodes)
    assert "no certified controller" in capsys.readouterr().out


def test_floors_skip_a_certified_controller_without_a_decoded_policy(tank, capsys):
    """``--method hybrid+cert,lpae+cert --floors``: LP-AE has no integer policy network to time; its row
    is left out with the reason, and the other certified controller's floors are still printed (the
    whole table was lost to a ValueError that said lpae+cert was not a NAME+cert controller)."""
    problem, (thetas, episodes) = tank
    contenders = [make_controller(name, problem) for name in ("miqp", "hybrid+cert", "lpae+cert")]
    rows = [{"controller": c.name, "median_ms": 1.0} for c in contenders]
    print_floors(contenders, rows, thetas, episodes)
    out = capsys.readouterr().out
    assert "sum of floors ms" in out
    table = [line for line in out.splitlines() if "hybrid+cert" in line]
    assert table, out
    assert "lpae+cert" in out and "no floors" in out
