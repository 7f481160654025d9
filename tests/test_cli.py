"""The `keras-svd` command line, end to end on a slice of real MNIST."""

import json

import keras
import pytest

from keras_svd import cli
from keras_svd import training


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    tfds_dir = tmp_path_factory.mktemp("tfds")
    cli.main(
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
    cli.main(["report", str(trained / "model.keras"), "--json"])
    report = json.loads(capsys.readouterr().out)
    result = json.loads((trained / "result.json").read_text())
    assert report["layers"] == result["layers"]
    assert report["compression"] == pytest.approx(result["compression"])
    cli.main(["report", str(trained / "model.keras")])
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
        cli.main(argv)
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
            cli.main(["train", "lenet-300-100", *flags])
    assert chosen == ["paper", "quick", "quick"]

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--recipe {paper,quick}" in help_text
    assert "--protocol" not in help_text


def test_missing_data_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SystemExit, match="--data-dir .*nowhere.* is not a folder"):
        cli.main(["train", "lenet-300-100", "--data-dir", str(missing)])


def test_data_folder_without_idx_files(tmp_path):
    with pytest.raises(SystemExit, match="train-images-idx3-ubyte"):
        cli.main(
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


def test_report_errors(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        cli.main(["report", str(tmp_path / "absent.keras")])
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    with pytest.raises(SystemExit, match="cannot load"):
        cli.main(["report", str(junk)])
    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(plain)
    with pytest.raises(SystemExit, match="no variational layer"):
        cli.main(["report", str(plain)])
