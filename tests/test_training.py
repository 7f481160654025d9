import csv
import json
import types

import keras
import numpy as np
import pytest

import keras_svd
from keras_svd import training
from keras_svd.recipes import get_recipe


class _Interrupted(Exception):
    pass


def _recipe(interrupt_at=None):
    quick = get_recipe("quick", "lenet-300-100")

    def learning_rate_at(epoch):
        if epoch == interrupt_at:
            raise _Interrupted(f"stopped before epoch {epoch}")
        return 1e-3

    # The recipe's fields, with a learning-rate schedule that can stop
    # the run at the start of an epoch, as a killed process would.
    return types.SimpleNamespace(
        name="quick",
        epochs=3,
        batch_size=50,
        learning_rate=1e-3,
        kl_schedule=quick.kl_schedule,
        train_clip=True,
        learning_rate_at=learning_rate_at,
    )


def test_run_recipe_resumes_from_its_backup(tmp_path):
    rng = np.random.default_rng(0)
    data = (
        rng.random((200, 28, 28, 1)).astype("float32"),
        rng.integers(0, 10, 200),
    )
    out, backup = tmp_path / "out", tmp_path / "backup"

    def run(recipe):
        model = training.build_model(
            "lenet-300-100", (28, 28, 1), 10, train_clip=True
        )
        return training.run_recipe(
            model, recipe, data, data, num_train_examples=200,
            dataset_name="mnist", model_name="lenet-300-100",
            output=str(out), verbose=0, backup_dir=str(backup),
        )

    with pytest.raises(_Interrupted):
        run(_recipe(interrupt_at=2))
    assert backup.exists()
    result = run(_recipe())
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # Epochs 0 and 1 from the first run, only epoch 2 from the second.
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["kl_weight"]) > float(rows[0]["kl_weight"])
    assert result["epochs"] == 3
    assert result["recipe"] == "quick"
    assert not backup.exists()  # Deleted once the run finished.
    for row in result["layers"]:
        assert row["sparsity_percent"] == pytest.approx(100 * row["sparsity"])
    assert result["weights"] == 784 * 300 + 300 * 100 + 100 * 10
    assert result["kept"] == sum(row["kept"] for row in result["layers"])
    saved = json.loads((out / "result.json").read_text())
    assert saved["layers"] == result["layers"]


def _two_layer_model():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras_svd.layers.VariationalDense(5, name="a"),
            keras_svd.layers.VariationalDense(2, name="b"),
        ]
    )
    a, b = model.layers
    # theta = 1, so log alpha = log sigma^2: 15 of 20 pruned in a, 1 of 10 in b.
    a_log_alpha = np.full((4, 5), 4.0, "float32")
    a_log_alpha.flat[:5] = -1.0
    b_log_alpha = np.full((5, 2), -1.0, "float32")
    b_log_alpha.flat[0] = 3.0
    for layer, log_alpha in ((a, a_log_alpha), (b, b_log_alpha)):
        layer.kernel.assign(np.ones(log_alpha.shape, "float32"))
        layer.log_sigma2.assign(log_alpha)
    return model


def test_model_result_holds_the_measurement_with_sparsity_percent():
    result = training.model_result(_two_layer_model())
    assert result == {
        "layers": [
            {
                "layer": "a",
                "weights": 20,
                "kept": 5,
                "sparsity": 0.75,
                "sparsity_percent": 75.0,
            },
            {
                "layer": "b",
                "weights": 10,
                "kept": 9,
                "sparsity": pytest.approx(0.1),
                "sparsity_percent": pytest.approx(10.0),
            },
        ],
        "weights": 30,
        "kept": 14,
        "sparsity": pytest.approx(16 / 30),
        "compression": 30 / 14,
    }


def test_result_table_is_the_sparsity_table_with_error_and_paper():
    result = {
        "model": "lenet-300-100",
        "dataset": "mnist",
        "recipe": "quick",
        "epochs": 3,
        "test_error_percent": 2.5,
        **training.model_result(_two_layer_model()),
        "paper": {
            "test_error_percent": 1.92,
            "sparsity_percent": [98.9, 97.2, 62.0],
            "compression": 68,
        },
    }
    lines = training.result_table(result).splitlines()
    assert lines[0] == "lenet-300-100 on mnist (quick recipe, 3 epochs)"
    assert lines[3].split() == ["a", "20", "5", "75.00"]
    assert lines[4].split() == ["b", "10", "9", "10.00"]
    assert lines[6].split() == ["Total", "30", "14", "53.33"]
    assert lines[7] == "Compression |W| / |W != 0|: 2.1x"
    assert lines[8] == "Test error: 2.50%"
    assert lines[9] == "Paper: 1.92% error, sparsity 98.9 / 97.2 / 62 %, 68x"
