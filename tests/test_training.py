import csv
import types

import numpy as np
import pytest

from keras_svd import training
from keras_svd.protocol import get_protocol


class _Interrupted(Exception):
    pass


def _plan(interrupt_at=None):
    quick = get_protocol("quick", "lenet-300-100")

    def learning_rate_at(epoch):
        if epoch == interrupt_at:
            raise _Interrupted(f"stopped before epoch {epoch}")
        return 1e-3

    # The protocol's fields, with a learning-rate schedule that can stop
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


def test_run_protocol_resumes_from_its_backup(tmp_path):
    rng = np.random.default_rng(0)
    data = (
        rng.random((200, 28, 28, 1)).astype("float32"),
        rng.integers(0, 10, 200),
    )
    out, backup = tmp_path / "out", tmp_path / "backup"

    def run(plan):
        model = training.build_model(
            "lenet-300-100", (28, 28, 1), 10, train_clip=True
        )
        return training.run_protocol(
            model, plan, data, data, num_train_examples=200,
            dataset_name="mnist", model_name="lenet-300-100",
            output=str(out), verbose=0, backup_dir=str(backup),
        )

    with pytest.raises(_Interrupted):
        run(_plan(interrupt_at=2))
    assert backup.exists()
    result = run(_plan())
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # Epochs 0 and 1 from the first run, only epoch 2 from the second.
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["kl_weight"]) > float(rows[0]["kl_weight"])
    assert result["epochs"] == 3
    assert not backup.exists()  # Deleted once the run finished.
