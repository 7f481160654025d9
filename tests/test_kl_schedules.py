"""Tests of the KL-weight schedules in `keras_svd.schedules`."""

import copy
import math

import keras
import numpy as np
import pytest

from keras_svd import schedules


def test_paper_warmup_is_zero_for_epochs_0_to_4_and_one_from_epoch_20():
    schedule = schedules.PaperWarmup()
    for epoch in range(5):
        assert schedule(epoch) == 0.0
    assert schedule(5) == pytest.approx(1 / 16)
    assert schedule(12) == pytest.approx(0.5)
    assert schedule(19) == pytest.approx(15 / 16)
    assert schedule(20) == 1.0
    assert schedule(21) == 1.0
    assert schedule(200) == 1.0
    assert schedule.by == "epoch"


def test_paper_warmup_is_linear_between_epoch_4_and_20():
    schedule = schedules.PaperWarmup()
    values = np.array([schedule(epoch) for epoch in range(4, 21)])
    np.testing.assert_allclose(np.diff(values), np.full(16, 1 / 16))
    assert all(isinstance(schedule(e), float) for e in range(25))


def test_linear_warmup_values_at_the_boundaries_are_exact():
    schedule = schedules.LinearWarmup(2, 6, initial=0.1, final=0.9)
    assert schedule(0) == 0.1
    assert schedule(2) == 0.1
    assert schedule(4) == pytest.approx(0.5)
    assert schedule(6) == 0.9
    assert schedule(100) == 0.9


def test_linear_warmup_can_decay():
    schedule = schedules.LinearWarmup(0, 4, initial=1.0, final=0.0)
    assert [schedule(e) for e in range(6)] == pytest.approx(
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    )


def test_linear_warmup_by_step_uses_the_step_not_the_epoch():
    schedule = schedules.LinearWarmup(10, 20, by="step")
    assert schedule(epoch=7, step=10) == 0.0
    assert schedule(epoch=0, step=15) == pytest.approx(0.5)
    assert schedule(epoch=0, step=20) == 1.0
    with pytest.raises(ValueError, match="Received: step=None"):
        schedule(3)


def test_constant_returns_its_value_at_every_epoch():
    schedule = schedules.Constant(0.25)
    assert [schedule(e) for e in (0, 1, 50)] == [0.25, 0.25, 0.25]
    assert schedules.Constant(1).value == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start": -1, "end": 5}, "Received: start=-1"),
        ({"start": 1.5, "end": 5}, "Received: start=1.5"),
        ({"start": True, "end": 5}, "Received: start=True"),
        ({"start": 0, "end": "5"}, "Received: end='5'"),
        ({"start": 5, "end": 5}, "end must be greater than start"),
        ({"start": 6, "end": 5}, "Received: end=5"),
        ({"start": 0, "end": 5, "initial": -0.1}, "Received: initial=-0.1"),
        ({"start": 0, "end": 5, "final": 1.5}, "Received: final=1.5"),
        ({"start": 0, "end": 5, "final": math.nan}, "Received: final=nan"),
        ({"start": 0, "end": 5, "final": "1"}, "Received: final='1'"),
        ({"start": 0, "end": 5, "by": "batch"}, "Received: by='batch'"),
    ],
)
def test_linear_warmup_rejects_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedules.LinearWarmup(**kwargs)


@pytest.mark.parametrize("value", [-0.5, 1.01, math.inf, None, "0.5", True])
def test_constant_rejects_values_outside_0_1(value):
    with pytest.raises(ValueError, match="Received: value="):
        schedules.Constant(value)


def test_schedules_reject_a_negative_epoch():
    with pytest.raises(ValueError, match="Received: epoch=-1"):
        schedules.PaperWarmup()(-1)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.PaperWarmup(),
        schedules.LinearWarmup(3, 9, initial=0.2, final=0.8, by="step"),
        schedules.Constant(0.5),
    ],
    ids=["paper", "linear", "constant"],
)
def test_schedule_config_round_trips(schedule):
    config = schedule.get_config()
    revived = type(schedule).from_config(config)
    assert revived.get_config() == config
    serialized = schedules.serialize(schedule)
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is type(schedule)
    assert deserialized.get_config() == config
    assert schedules.get(serialized).get_config() == config
    copied = copy.deepcopy(schedule)
    for t in (0, 3, 5, 9, 12, 25):
        expected = schedule(t, step=t)
        assert deserialized(t, step=t) == expected
        assert copied(t, step=t) == expected


def test_paper_warmup_config_is_empty_and_linear_warmup_keeps_all_arguments():
    assert schedules.PaperWarmup().get_config() == {}
    config = schedules.LinearWarmup(1, 2).get_config()
    assert set(config) == {"start", "end", "initial", "final", "by"}


def test_deserialize_accepts_the_short_form_of_built_in_schedules():
    schedule = schedules.deserialize(
        {"class_name": "LinearWarmup", "config": {"start": 0, "end": 4}}
    )
    assert isinstance(schedule, schedules.LinearWarmup)
    assert schedule(2) == pytest.approx(0.5)


def test_get_turns_identifiers_into_schedules():
    paper = schedules.PaperWarmup()
    assert schedules.get(paper) is paper
    constant = schedules.get(0.3)
    assert isinstance(constant, schedules.Constant) and constant(9) == 0.3
    wrapped = schedules.get(lambda epoch: min(epoch / 4, 1.0))
    assert isinstance(wrapped, schedules.FunctionSchedule)
    assert [wrapped(e) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert isinstance(wrapped(1), float)


@pytest.mark.parametrize("identifier", [None, "paper", [0.5], 2.0, True])
def test_get_rejects_what_it_cannot_interpret(identifier):
    with pytest.raises(ValueError, match="Received:"):
        schedules.get(identifier)


def test_function_schedule_checks_the_returned_beta():
    schedule = schedules.get(lambda epoch: 1.5)
    with pytest.raises(ValueError, match="Received: beta=1.5"):
        schedule(0)
    schedule = schedules.get(lambda epoch: float("nan"))
    with pytest.raises(ValueError, match="beta"):
        schedule(0)
    with pytest.raises(ValueError, match="Received: function=3"):
        schedules.FunctionSchedule(3)


def test_function_schedule_round_trips_a_registered_function():
    @keras.saving.register_keras_serializable(package="keras_svd_tests")
    def halves(epoch):
        return 0.5 if epoch < 2 else 1.0

    schedule = schedules.FunctionSchedule(halves, by="epoch")
    revived = schedules.deserialize(schedules.serialize(schedule))
    assert [revived(e) for e in range(4)] == [0.5, 0.5, 1.0, 1.0]


def test_function_schedule_by_step_receives_the_step():
    schedule = schedules.FunctionSchedule(lambda t: t / 100, by="step")
    assert schedule(epoch=9, step=25) == 0.25


def test_function_schedule_accepts_numpy_scalars():
    assert schedules.get(lambda epoch: np.float32(0.5))(0) == 0.5
    assert schedules.get(lambda epoch: np.array(0.25))(0) == 0.25
    with pytest.raises(ValueError, match="beta"):
        schedules.get(lambda epoch: np.array([0.25]))(0)
