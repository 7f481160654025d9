"""The `keras-svd` command line, end to end on a slice of real MNIST."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_svd
import keras_svd_cli
from keras_svd import models
from keras_svd import recipes
from keras_svd import training


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    tfds_dir = tmp_path_factory.mktemp("tfds")
    keras_svd_cli.main(
        [
            "train",
            "lenet-300-100",
            "--recipe",
            "quick",
            "--data-dir",
            str(mnist_dir),
            "--tfds-dir",
            str(tfds_dir),
            "--output",
            str(out),
            "--train-size",
            "3000",
            "--test-size",
            "1000",
            "--seed",
            "1",
            "--verbose",
            "0",
        ]
    )
    return out


def test_train_writes_result_json_and_model(trained, capsys):
    result = json.loads((trained / "result.json").read_text())
    assert result["model"] == "lenet-300-100"
    assert result["recipe"] == "quick"
    assert result["epochs"] == 3
    assert result["num_train_examples"] == 3000
    assert [r["layer"] for r in result["layers"]] == [
        "dense_300",
        "dense_100",
        "logits",
    ]
    assert sum(r["weights"] for r in result["layers"]) == 266_200
    # Trained on real digits: far better than chance, and pruned.
    assert result["test_error_percent"] < 20.0
    assert result["compression"] > 2.0
    assert (trained / "model.keras").is_file()
    history = (trained / "history.csv").read_text().splitlines()
    header = history[0].split(",")
    for key in ("kl_weight", "sparsity", "compression", "accuracy", "loss"):
        assert key in header
    assert len(history) == 4  # header + 3 epochs


def test_report_reads_the_saved_model(trained, capsys):
    keras_svd_cli.main(["report", str(trained / "model.keras"), "--json"])
    report = json.loads(capsys.readouterr().out)
    result = json.loads((trained / "result.json").read_text())
    assert report["layers"] == result["layers"]
    assert report["compression"] == pytest.approx(result["compression"])
    keras_svd_cli.main(["report", str(trained / "model.keras")])
    lines = capsys.readouterr().out.splitlines()
    dense_300 = next(line for line in lines if line.startswith("dense_300"))
    row = result["layers"][0]
    assert dense_300.split() == [
        "dense_300",
        f"{row['weights']:,}",
        f"{row['kept']:,}",
        f"{row['sparsity_percent']:.2f}",
    ]
    total = next(line for line in lines if line.startswith("Total"))
    assert total.split()[1:3] == [f"{result['weights']:,}", f"{result['kept']:,}"]
    assert lines[-1] == (
        f"Compression |W| / |W != 0|: {result['compression']:.1f}x"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "lenet-9000"], "invalid choice: 'lenet-9000'"),
        (["train", "lenet-300-100", "--dataset", "svhn"], "invalid choice: 'svhn'"),
        (["train", "lenet-300-100", "--epochs", "0"], "positive integer, got '0'"),
        (["train", "lenet-300-100", "--epochs", "ten"], "positive integer, got 'ten'"),
        (["train", "lenet-300-100", "--batch-size", "-5"], "got '-5'"),
        (["train", "lenet-300-100", "--recipe", "slow"], "invalid choice: 'slow'"),
        (["train", "lenet-300-100", "--protocol", "slow"], "invalid choice: 'slow'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        keras_svd_cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_protocol_is_a_hidden_alias_of_recipe(monkeypatch, capsys):
    chosen = []

    def fake_train(model_name, **kwargs):
        chosen.append(kwargs["recipe"])
        raise ValueError("stopped before training")

    monkeypatch.setattr(training, "train", fake_train)
    for flags in ([], ["--recipe", "quick"], ["--protocol", "quick"]):
        with pytest.raises(SystemExit, match="stopped before training"):
            keras_svd_cli.main(["train", "lenet-300-100", *flags])
    assert chosen == ["paper", "quick", "quick"]

    with pytest.raises(SystemExit) as exit_info:
        keras_svd_cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--recipe {paper,quick}" in help_text
    assert "--protocol" not in help_text


def test_missing_data_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SystemExit, match="--data-dir .*nowhere.* is not a folder"):
        keras_svd_cli.main(["train", "lenet-300-100", "--data-dir", str(missing)])


def test_data_folder_without_idx_files_lists_them_once(tmp_path):
    with pytest.raises(SystemExit) as info:
        keras_svd_cli.main(
            [
                "train",
                "lenet-300-100",
                "--data-dir",
                str(tmp_path),
                "--tfds-dir",
                str(tmp_path / "tfds"),
                "--output",
                str(tmp_path / "out"),
            ]
        )
    message = str(info.value)
    assert "holds none of the four IDX files" in message
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        assert message.count(name) == 1, name
    assert "--data-dir DIR" in message


def test_report_says_what_is_wrong_with_a_file(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        keras_svd_cli.main(["report", str(tmp_path / "absent.keras")])
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    with pytest.raises(SystemExit, match="not a .keras file: it is not a zip"):
        keras_svd_cli.main(["report", str(junk)])
    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(
        SystemExit, match="lacks config.json and model.weights.h5"
    ):
        keras_svd_cli.main(["report", str(other_zip)])
    # A .keras archive whose weights are cut off: Keras's own reason.
    good = tmp_path / "good.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(good)
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            out.writestr(name, data[:40] if name.endswith(".h5") else data)
    with pytest.raises(SystemExit, match="Keras could not load the model"):
        keras_svd_cli.main(["report", str(broken)])


def test_report_counts_the_zeros_of_a_plain_model(tmp_path, capsys):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="hidden"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    kernel = np.ones((4, 3), "float32")
    kernel[:, 0] = 0.0  # 4 of 12 weights are zeros
    model.get_layer("hidden").kernel.assign(kernel)
    path = tmp_path / "plain.keras"
    model.save(path)
    keras_svd_cli.main(["report", str(path), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["plain_model"] is True
    rows = {row["layer"]: row for row in result["layers"]}
    assert rows["hidden"]["weights"] == 12 and rows["hidden"]["kept"] == 8
    assert rows["out"]["kept"] == 6
    keras_svd_cli.main(["report", str(path)])
    out = capsys.readouterr().out
    assert "a plain model" in out and "zero weights count as pruned" in out


def test_help_and_bad_arguments_do_not_import_tensorflow():
    code = (
        "import sys, keras_svd_cli\n"
        "for argv in (['--help'], ['train', '--help'], ['train', 'x']):\n"
        "    try:\n"
        "        keras_svd_cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch')"
        " if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "--recipe {paper,quick}" in proc.stdout


def test_launcher_names_match_the_package():
    assert keras_svd_cli.MODEL_NAMES == tuple(sorted(models.MODELS))
    assert keras_svd_cli.RECIPE_NAMES == recipes.RECIPE_NAMES


def test_train_writes_plain_lines_to_a_pipe_and_names_its_files(
    mnist_dir, tmp_path
):
    out = tmp_path / "run"
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_svd_cli",
            "train",
            "lenet-300-100",
            "--recipe",
            "quick",
            "--epochs",
            "1",
            "--data-dir",
            str(mnist_dir),
            "--tfds-dir",
            str(tmp_path / "tfds"),
            "--output",
            str(out),
            "--train-size",
            "500",
            "--test-size",
            "200",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # One line per epoch: no progress bar's carriage returns or colours.
    assert "\r" not in proc.stdout and "\x1b[" not in proc.stdout
    epoch_lines = [
        line for line in proc.stdout.splitlines() if " - loss: " in line
    ]
    assert len(epoch_lines) == 1
    assert "kl_loss: " in epoch_lines[0]
    assert "(quick recipe, 1 epoch)" in proc.stdout
    files = [str(out / name) for name in training.OUTPUT_FILES]
    assert f"Wrote {files[0]}, {files[1]} and {files[2]}" in proc.stdout
    for path in files:
        assert os.path.isfile(path)
    # TensorFlow's start-up log stays off the terminal.
    for noise in ("oneDNN", "cudart", "absl::InitializeLog", "cpu_feature"):
        assert noise not in proc.stderr
    # beta stayed 0 in this one epoch: the user is told why nothing pruned.
    assert proc.stderr.count("beta was still 0") == 1
    # history.csv: only the columns that were measured.
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert not [key for key in header if key.startswith("val_")]
    assert {"kl", "kl_loss", "kl_weight", "loss"} <= set(header)


def test_offline_data_error_names_the_command_line_flag(
    monkeypatch, capsys
):
    from keras_svd.datasets import loading

    def unavailable(model_name, **kwargs):
        raise loading.DatasetUnavailableError(
            loading._SPECS["mnist"], "the network is down."
        )

    monkeypatch.setattr(training, "train", unavailable)
    with pytest.raises(SystemExit) as info:
        keras_svd_cli.main(["train", "lenet-300-100"])
    message = str(info.value)
    assert "the network is down." in message
    assert "--data-dir DIR" in message
    assert "source_dir" not in message
    assert message.count("train-images-idx3-ubyte") == 1


def test_tune_writes_the_trials_the_front_and_a_deployable_model(
    mnist_dir, tmp_path, capsys
):
    out = tmp_path / "tune"
    argv = [
        "tune",
        "lenet-300-100",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--data-dir",
        str(mnist_dir),
        "--train-size",
        "1200",
        "--val-size",
        "200",
        "--output",
        str(out),
        "--seed",
        "1",
        "--verbose",
        "0",
    ]
    keras_svd_cli.main(argv)
    printed = capsys.readouterr().out
    assert "2 trials" in printed
    rows = (out / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("trial_id,val_accuracy,compression")
    assert len(rows) == 3
    front = (out / "pareto_front.csv").read_text().splitlines()
    assert 2 <= len(front) <= 3
    best = keras.saving.load_model(out / "best_model.keras")
    assert not keras_svd.variational_layers(best)  # stripped, plain layers
    assert best.output_shape == (None, 10)
    # Run again: keras-tuner resumes the finished search, no new trial.
    keras_svd_cli.main(argv)
    assert "2 trials" in capsys.readouterr().out


def test_tune_rejects_a_validation_split_as_large_as_the_data(
    mnist_dir, tmp_path
):
    with pytest.raises(SystemExit, match="--val-size must be smaller"):
        keras_svd_cli.main(
            [
                "tune",
                "lenet-300-100",
                "--data-dir",
                str(mnist_dir),
                "--train-size",
                "100",
                "--val-size",
                "100",
                "--output",
                str(tmp_path),
            ]
        )
