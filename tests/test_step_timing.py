"""The step a control loop pays: ``StepInfo.solve_time`` spans the whole ``act`` call, and the
diagnostics control does not need (plan states, objective, OOD check, message) are deferred:
computed on first read, from the step's own data, once.
"""

import pickle
import time

import numpy as np
import pytest

from mimpc.controllers import make_controller
from mimpc.controllers.base import StepInfo
from mimpc.problems import make_problem
from mimpc.problems.samplers import sample_thetas
from mimpc.training.support import TrainingSupport


@pytest.fixture(scope="module")
def robot():
    return make_problem("robot_nav")


@pytest.fixture(scope="module")
def theta(robot):
    return sample_thetas(robot, "starts", 3, 1)[0]


@pytest.mark.parametrize("name", ["hybrid", "hybrid+cert"])
def test_diagnostics_are_computed_on_first_read_only(robot, theta, name, monkeypatch):
    c = make_controller(name, robot)
    support = c.support if name == "hybrid" else c.base.support
    calls = {"objective": 0, "contains": 0}
    objective, contains = type(robot).objective, type(support).contains

    def counted_objective(self, *a, **k):
        calls["objective"] += 1
        return objective(self, *a, **k)

    def counted_contains(self, t):
        calls["contains"] += 1
        return contains(self, t)

    monkeypatch.setattr(type(robot), "objective", counted_objective)
    monkeypatch.setattr(type(support), "contains", counted_contains)
    c.act(theta)
    assert calls == {"objective": 0, "contains": 0}  # nothing of it inside the step
    info = c.last
    assert info.objective == pytest.approx(float(objective(robot, info.x, info.integers, theta)), rel=1e-12)
    assert info.ood is (not contains(support, theta))
    np.testing.assert_array_equal(info.plan, robot.layout.states(info.x))
    assert info.message
    _ = (info.objective, info.ood)  # read again: kept, not recomputed
    assert calls == {"objective": 1, "contains": 1}


def test_deferred_values_belong_to_the_step_not_to_the_callers_buffer(robot, theta):
    c = make_controller("hybrid+cert", robot)
    obs = theta.copy()
    c.act(obs)
    info = c.last
    obs[:] = 0.0  # the caller reuses its observation buffer before reading the diagnostics
    assert info.objective == pytest.approx(float(robot.objective(info.x, info.integers, theta)), rel=1e-12)


def test_step_time_spans_validation_compute_and_annotation(robot, theta, monkeypatch):
    c = make_controller("hybrid+cert", robot)
    marks = {}
    check, annotate = type(robot).check_theta, c._annotate

    def marked_check(self, *a, **k):
        marks["validated"] = time.perf_counter()
        return check(self, *a, **k)

    def marked_annotate(*a, **k):
        annotate(*a, **k)
        marks["annotated"] = time.perf_counter()

    monkeypatch.setattr(type(robot), "check_theta", marked_check)
    monkeypatch.setattr(c, "_annotate", marked_annotate)
    before = time.perf_counter()
    c.act(theta)
    after = time.perf_counter()
    assert marks["annotated"] - marks["validated"] <= c.last.solve_time <= after - before
    assert c.last.solve_time >= sum(c.last.timings.values())


def test_stepinfo_defer_refuses_non_deferred_fields_and_pickles_values():
    info = StepInfo(0.0, "relaxed")
    with pytest.raises(ValueError, match="not a deferred field"):
        info.defer(status=lambda: "x")
    with pytest.raises(ValueError, match="function of no argument"):
        info.defer(objective=3.0)
    info.defer(objective=lambda: 3.0, message=lambda: "m")
    back = pickle.loads(pickle.dumps(info))
    assert back.objective == 3.0 and back.message == "m" and back.ood is None and back.plan is None
    assert StepInfo(0.0, "x", objective=1.5).objective == 1.5  # eager values still work


def test_support_contains_agrees_with_the_batch_test():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(3000, 4)) * [1.0, 2.0, 0.5, 1.0]
    sup = TrainingSupport.fit(train, n_anchors=300)
    probe = np.concatenate([train[:200], rng.normal(size=(400, 4)) * 2.5, train[:50] + 10.0])
    batch = sup.contains_batch(probe)
    assert batch.any() and not batch.all()
    assert [sup.contains(t) for t in probe] == batch.tolist()
    with pytest.raises(ValueError, match="shape"):
        sup.contains(probe[0, :3])
