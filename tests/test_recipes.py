"""Tests of `keras_svd.recipes`: the paper's training recipe and a quick one."""

import pytest

from keras_svd.recipes import get_recipe


def test_paper_recipe_lenet_300_100():
    plan = get_recipe("paper", "lenet-300-100")
    assert (plan.epochs, plan.batch_size, plan.learning_rate) == (200, 100, 1e-3)
    assert plan.train_clip
    # Constant to epoch 100, then linear to 0 at epoch 200.
    assert plan.learning_rate_at(0) == plan.learning_rate_at(99) == 1e-3
    assert plan.learning_rate_at(150) == pytest.approx(5e-4)
    assert plan.learning_rate_at(199) == pytest.approx(1e-5)
    # KL weight: 0 for epochs 0-4, 1 from epoch 20.
    assert [plan.kl_schedule(e) for e in (0, 4, 20, 100)] == [0, 0, 1, 1]
    assert 0 < plan.kl_schedule(12) < 1


def test_paper_recipe_lenet5_decays_linearly():
    plan = get_recipe("paper", "lenet5-caffe")
    assert plan.learning_rate_at(0) == 1e-3
    assert plan.learning_rate_at(100) == pytest.approx(5e-4)
    assert plan.learning_rate_at(199) == pytest.approx(5e-6)


def test_epochs_override_scales_the_decay():
    plan = get_recipe("paper", "lenet5-caffe", epochs=60)
    assert plan.epochs == 60
    assert plan.learning_rate_at(30) == pytest.approx(5e-4)


def test_quick_recipe_warms_up_over_three_epochs():
    plan = get_recipe("quick", "lenet-300-100")
    assert plan.epochs == 3
    assert [plan.kl_schedule(e) for e in range(3)] == [0.0, 0.5, 1.0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "slow"}, "Received: recipe='slow'"),
        ({"name": "paper", "epochs": 0}, "Received: epochs=0"),
        ({"name": "paper", "batch_size": 2.5}, "Received: batch_size=2.5"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_recipe(model_name="lenet-300-100", **kwargs)
