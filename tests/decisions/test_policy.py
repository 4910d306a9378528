"""Policy arithmetic, checked by hand on tiny inputs."""

import numpy as np
import pytest

from propensity.decisions.policy import (
    Policy,
    assign_tiers,
    expected_value,
    operating_point,
    sweep,
    whatif,
)
from propensity.errors import SpecError
from propensity.spec import PolicySection

# six customers, likeliest first: outcomes 1 1 0 1 0 0
P = np.array([0.9, 0.8, 0.7, 0.4, 0.2, 0.1])
Y = np.array([1, 1, 0, 1, 0, 0])


def test_sweep_by_hand():
    policy = Policy(benefit=100, cost=30)
    table = sweep(Y, P, policy, thresholds=[0.75, 0.5, 0.3, 0.0])
    assert table.volume.tolist() == [2, 3, 4, 6]
    assert table.cut.tolist() == [0.8, 0.7, 0.4, 0.1]
    assert table.reached.tolist() == [2, 2, 3, 3]
    assert table.profit.tolist() == [2 * 100 - 60, 200 - 90, 300 - 120, 300 - 180]
    assert table.precision.tolist() == pytest.approx([1.0, 2 / 3, 0.75, 0.5])
    assert table.recall.tolist() == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0])
    # accuracy: contacted = predicted positive; at 0.3 only customer 3 is wrong
    assert table.accuracy.tolist() == pytest.approx([5 / 6, 4 / 6, 5 / 6, 3 / 6])
    # expected profit uses the scores: 0.9 + 0.8 = 1.7 expected churners in the top two
    assert table.expected_profit.iloc[0] == pytest.approx(1.7 * 100 - 60)


def test_capacity_and_budget_cap_the_volume():
    capped = sweep(Y, P, Policy(benefit=100, cost=30, capacity=2), thresholds=[0.0])
    assert capped.volume.tolist() == [2]
    assert capped.above.tolist() == [6]
    assert capped.cut.tolist() == [0.8]  # the capacity, not the threshold, decides
    assert capped.capped.tolist() == [True]
    assert capped.profit.tolist() == [140]
    budget = sweep(Y, P, Policy(benefit=100, cost=30, budget=100), thresholds=[0.0])
    assert budget.volume.tolist() == [3]  # 100 // 30


def test_operating_point_maximises_profit_and_shows_accuracy_beside_it():
    # contacts are cheap: reaching customer 4 (p = 0.4) pays even though a classifier
    # would call the 0.75 threshold just as accurate
    point = operating_point(Y, P, Policy(benefit=100, cost=30))
    assert point["profit"]["volume"] == 4
    assert point["profit"]["profit"] == 180
    assert point["accuracy"]["accuracy"] == pytest.approx(5 / 6)
    assert point["accuracy"]["threshold"] > point["profit"]["threshold"]
    assert point["contact_everyone"]["profit"] == 120
    # expensive contacts: only the top two pay
    dear = operating_point(Y, P, Policy(benefit=100, cost=90))
    assert dear["profit"]["volume"] == 2
    assert dear["profit"]["profit"] == 20
    # under a capacity of 1 the classifier's choice ignores the limit: it is shown uncapped
    tight = operating_point(Y, P, Policy(benefit=100, cost=30, capacity=1))
    assert tight["profit"]["volume"] == 1
    assert tight["accuracy"]["volume"] in (2, 4)


def test_whatif_by_threshold_and_capacity():
    policy = Policy(benefit=100, cost=30)
    by_threshold = whatif(Y, P, policy, steps=10)
    assert by_threshold.threshold.tolist() == pytest.approx([0.1 * i for i in range(1, 10)])
    by_capacity = whatif(Y, P, policy, by="capacity", steps=3)
    assert by_capacity.capacity.tolist() == [2, 4, 6]
    assert by_capacity.profit.tolist() == [140, 180, 120]
    with pytest.raises(SpecError, match="'volume' is not known; choose threshold or capacity"):
        whatif(Y, P, policy, by="volume")


def test_tiers_and_expected_value():
    tiers = (("medium", 0.3, "retention email"), ("high", 0.6, "call within a week"))
    names, actions = assign_tiers(P, tiers)
    assert names.tolist() == ["high", "high", "high", "medium", "", ""]
    assert actions.tolist()[3:] == ["retention email", "no action", "no action"]
    assert expected_value([0.5, 0.1], benefit=100, cost=5).tolist() == [45, 5]
    assert expected_value([0.5], benefit=100, cost=5, value=[40]).tolist() == [15]


def test_from_spec_with_overrides():
    section = PolicySection(capacity=500, benefit=120, cost=5, tiers={"high": {"at_least": 0.6}})
    policy = Policy.from_spec(section, cost=8, capacity=None)
    assert (policy.benefit, policy.cost, policy.capacity) == (120, 8, 500)
    assert policy.tiers == (("high", 0.6, ""),)
    assert policy.limit(10_000) == 500
    with pytest.raises(SpecError, match=r"policy\.capacity: 0 must be at least 1"):
        Policy.from_spec(section, capacity=0)
