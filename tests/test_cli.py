"""The anomaly command line: fit and streamed score."""

import errno
import os
import re

import numpy as np
import pandas as pd
import pytest

import anomaly
from anomaly.cli import main
from anomaly.timeseries import WINDOW_EARLY_STOPPING

WINDOW = 8


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch):
    # anomaly fit's threads follow the idle cores: keep them independent of the machine's load.
    from anomaly import cli

    monkeypatch.setattr(cli, "idle_cores", lambda: None)


def write_series(path, n_rows=120, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(n_rows)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n_rows, freq="min").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "cpu": np.sin(steps / 4) + 0.05 * rng.normal(size=n_rows),
            "memory": np.cos(steps / 9) + 0.05 * rng.normal(size=n_rows),
        }
    )
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    write_series(folder / "train.csv")
    path = folder / "model.safetensors"
    argv = ["fit", str(folder / "train.csv"), "--window-size", str(WINDOW), "--stride", "3"]
    assert main([*argv, "--epochs", "3", "--contamination", "0.05", "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("chunk_rows", [1, 3, WINDOW, WINDOW + 5, 1000])
def test_streamed_scores_equal_in_memory_scores(model, tmp_path, capsys, chunk_rows):
    frame = write_series(tmp_path / "input.csv", n_rows=101, seed=1)
    out = tmp_path / "scores.csv"
    argv = ["score", str(model), str(tmp_path / "input.csv"), "-o", str(out)]
    assert main([*argv, "--chunk-rows", str(chunk_rows)]) == 0
    assert re.search(
        r"scored 101 rows in [\d.]+ s \([\d,]+ rows/s\); wrote ", capsys.readouterr().out
    )
    scores = pd.read_csv(out, dtype={"time": str})
    assert list(scores.columns) == ["time", "anomaly_score", "label"]
    detector = anomaly.load(model)
    expected = -detector.score_samples(frame[["cpu", "memory"]])  # higher = more abnormal
    np.testing.assert_array_equal(scores["time"], frame["time"])
    np.testing.assert_array_equal(scores["anomaly_score"], expected)  # exact, through the text
    np.testing.assert_array_equal(scores["label"], detector.predict(frame[["cpu", "memory"]]))


@pytest.mark.parametrize("scheduler", [[], ["--scheduler", "local", "--workers", "2"]])
def test_many_files_equal_one_file_outputs(model, tmp_path, capsys, scheduler):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for seed, n_rows in enumerate([101, WINDOW, 300]):
        write_series(inputs / f"host-{seed}.csv", n_rows=n_rows, seed=seed)
    (inputs / "host-9.csv").write_text("time,cpu,memory\n2024-01-01,1,x\n")  # a bad file
    out = tmp_path / "out"
    out.mkdir()
    # A quoted glob, as from a shell that leaves it be.
    argv = ["score", str(model), str(inputs / "host-*.csv"), "--output-dir", str(out)]
    assert main([*argv, *scheduler]) == 1
    captured = capsys.readouterr()
    assert re.search(r"error: \S+host-9\.csv: .*line 2", captured.err)
    assert f"scored {401 + WINDOW} rows of 3 file(s) in " in captured.out
    assert "1 file(s) failed" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["host-0.csv", "host-1.csv", "host-2.csv"]
    for seed in range(3):
        one = tmp_path / f"one-{seed}.csv"
        assert main(["score", str(model), str(inputs / f"host-{seed}.csv"), "-o", str(one)]) == 0
        assert (out / f"host-{seed}.csv").read_bytes() == one.read_bytes()


def test_many_inputs_need_an_output_folder(model, tmp_path, capsys):
    write_series(tmp_path / "a.csv")
    write_series(tmp_path / "b.csv")
    argv = ["score", str(model), str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert main([*argv, "-o", str(tmp_path / "s.csv")]) == 1
    assert "2 inputs need --output-dir" in capsys.readouterr().err
    # A missing folder is made (as compare's); a file in its place is refused.
    assert main([*argv, "--output-dir", str(tmp_path / "new" / "scores")]) == 0
    assert sorted(p.name for p in (tmp_path / "new" / "scores").iterdir()) == ["a.csv", "b.csv"]
    assert main([*argv, "--output-dir", str(tmp_path / "a.csv")]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["score", str(model), str(tmp_path / "z*.csv"), "--output-dir", str(tmp_path)]) == 1
    assert "No file matches" in capsys.readouterr().err
    for workers in (["--workers", "0", "--scheduler", "local"], ["--workers", "2"]):
        assert main([*argv, "--output-dir", str(tmp_path), *workers]) == 1
        assert "--workers takes a number of at least 1" in capsys.readouterr().err


def test_columns_may_come_in_any_order(model, tmp_path):
    frame = write_series(tmp_path / "input.csv")
    frame[["memory", "time", "cpu"]].to_csv(tmp_path / "shuffled.csv", index=False)
    for name in ("input", "shuffled"):
        assert (
            main(
                [
                    "score",
                    str(model),
                    str(tmp_path / f"{name}.csv"),
                    "-o",
                    str(tmp_path / f"{name}.out"),
                ]
            )
            == 0
        )
    assert (tmp_path / "input.out").read_text() == (tmp_path / "shuffled.out").read_text()


def _good_lines(n_rows=30):
    lines = ["time,cpu,memory"]
    lines += [f"2024-01-01 00:{i:02d}:00,{np.sin(i):.3f},{np.cos(i):.3f}" for i in range(n_rows)]
    return lines


def _with(line_number, text, n_rows=30):
    lines = _good_lines(n_rows)
    lines[line_number - 1] = text
    return "\n".join(lines) + "\n"


MALFORMED = {
    "non-numeric": (
        _with(12, "2024-01-01 00:10:00,abc,0.5"),
        "line 12: 'abc' in 'cpu' is not a number",
    ),
    "missing value": (_with(7, "2024-01-01 00:05:00,,0.5"), "line 7: missing value in 'cpu'"),
    "infinite": (_with(9, "2024-01-01 00:07:00,inf,0.5"), "line 9: 'inf' in 'cpu' is not finite"),
    "short row": (
        _with(20, "2024-01-01 00:18:00,0.5"),
        "line 20: 2 fields, where the header has 3",
    ),
    "long row": (_with(20, "2024-01-01 00:18:00,0.5,0.5,0.5"), "line 20"),
    "long first row": (
        "time,cpu,memory\n2024-01-01 00:00:00,1,2,3\n",
        "line 2: 4 fields, where the header has 3",
    ),
    "repeated column name": (
        "time,cpu,cpu,memory\n2024-01-01 00:00:00,1,2,3\n",
        r"repeats the column name\(s\) \['cpu'\]",
    ),
    "duplicate timestamp": (
        _with(5, "2024-01-01 00:02:00,0.1,0.2"),
        "line 5: timestamp 2024-01-01 00:02:00 repeats",
    ),
    "unsorted timestamp": (
        _with(5, "2024-01-01 00:00:30,0.1,0.2"),
        "line 5: timestamp 2024-01-01 00:00:30 is earlier than",
    ),
    "bad timestamp": (
        _with(4, "yesterday,0.1,0.2"),
        "line 4: 'yesterday' in 'time' is not a timestamp",
    ),
    "missing column": (
        "time,cpu\n2024-01-01 00:00:00,1\n",
        r"lacks the value column\(s\) \['memory'\]",
    ),
    "extra column": (
        "time,cpu,memory,disk\n2024-01-01 00:00:00,1,2,3\n",
        r"the other columns are \['time', 'disk'\] \(name the timestamp column",
    ),
    "header only": ("time,cpu,memory\n", "header but no data rows"),
    "empty file": ("", "is empty"),
    "blank line": (_with(6, ""), "line 6: missing value"),
    "duplicate across chunks": (
        _with(10, "2024-01-01 00:07:00,0.1,0.2"),  # line 9 holds 00:07; chunks of 4 rows end at 9
        "line 10: timestamp 2024-01-01 00:07:00 repeats",
    ),
    "shorter than a window": (
        "\n".join(_good_lines(WINDOW - 1)) + "\n",
        f"fewer than window_size={WINDOW}",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_fails_clearly_and_writes_nothing(model, tmp_path, capsys, case):
    text, message = MALFORMED[case]
    (tmp_path / "input.csv").write_text(text)
    out = tmp_path / "scores.csv"
    assert (
        main(
            ["score", str(model), str(tmp_path / "input.csv"), "-o", str(out), "--chunk-rows", "4"]
        )
        == 1
    )
    error = capsys.readouterr().err
    assert error.startswith("anomaly score: error:")
    assert re.search(message, error), error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv"]  # no output, no temp file


def test_chunk_rows_must_be_positive(model, tmp_path, capsys):
    (tmp_path / "input.csv").write_text("\n".join(_good_lines()) + "\n")
    argv = ["score", str(model), str(tmp_path / "input.csv"), "-o", str(tmp_path / "o.csv")]
    assert main([*argv, "--chunk-rows", "0"]) == 1
    assert "chunk_rows must be at least 1, got 0" in capsys.readouterr().err


def test_failed_run_keeps_a_previous_output(model, tmp_path):
    (tmp_path / "input.csv").write_text(MALFORMED["non-numeric"][0])
    out = tmp_path / "scores.csv"
    out.write_text("previous")
    assert main(["score", str(model), str(tmp_path / "input.csv"), "-o", str(out)]) == 1
    assert out.read_text() == "previous"


def test_missing_files_are_clear_errors(model, tmp_path, capsys):
    assert (
        main(["score", str(model), str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 1
    )
    assert "No CSV file at" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "m")]) == 1
    assert "No CSV file at" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["fit"], ["score"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: anomaly" in capsys.readouterr().out


def test_fit_reads_the_named_columns_and_detector(tmp_path):
    write_series(tmp_path / "train.csv")
    path = tmp_path / "gan.safetensors"
    argv = ["fit", str(tmp_path / "train.csv"), "--columns", "cpu", "--detector", "gan"]
    assert main([*argv, "--window-size", "6", "--epochs", "1", "-o", str(path)]) == 0
    detector = anomaly.load(path)
    assert type(detector.detector_).__name__ == "GANDetector"
    assert list(detector.feature_names_in_) == ["cpu"]


def test_a_model_of_some_columns_scores_its_training_file_given_the_timestamp_column(
    tmp_path, capsys
):
    frame = write_series(tmp_path / "train.csv")
    model, out = tmp_path / "cpu.safetensors", tmp_path / "scores.csv"
    argv = ["fit", str(tmp_path / "train.csv"), "--columns", "cpu", "--window-size", "6"]
    assert main([*argv, "--epochs", "1", "-o", str(model)]) == 0
    score = ["score", str(model), str(tmp_path / "train.csv"), "-o", str(out)]
    assert main(score) == 1  # "memory" might be the timestamps: refused, with the way out
    assert "name the timestamp column" in capsys.readouterr().err
    assert not out.exists()
    assert main([*score, "--timestamp-column", "time"]) == 0
    scores = pd.read_csv(out, dtype={"time": str})
    assert list(scores.columns) == ["time", "anomaly_score", "label"]
    np.testing.assert_array_equal(
        scores["anomaly_score"], -anomaly.load(model).score_samples(frame[["cpu"]])
    )
    for column, message in [("when", "has no column 'when'"), ("cpu", "'cpu' is a value column")]:
        assert main([*score, "--timestamp-column", column]) == 1
        assert message in capsys.readouterr().err


def test_the_vae_scores_windows_by_standardized_residuals_unless_told(tmp_path, capsys):
    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "1"]
    assert main([*argv, "-o", str(tmp_path / "default")]) == 0
    assert anomaly.load(tmp_path / "default").detector_.scoring_rule == "standardized_residual"
    rule = ["--scoring-rule", "reconstruction_probability"]
    assert main([*argv, *rule, "-o", str(tmp_path / "probability")]) == 0
    loaded = anomaly.load(tmp_path / "probability").detector_
    assert loaded.scoring_rule == "reconstruction_probability"
    assert loaded.residual_variance_ is None
    assert main([*argv, "--scoring-rule", "nonsense", "-o", str(tmp_path / "bad")]) == 1
    assert "'scoring_rule' parameter of VAEDetector must be a str among" in capsys.readouterr().err


def test_n_draws_reaches_the_vae_and_is_refused_for_the_gan(tmp_path, capsys):
    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "1"]
    assert main([*argv, "--n-draws", "2", "-o", str(tmp_path / "vae")]) == 0
    assert anomaly.load(tmp_path / "vae").detector_.n_draws == 2
    assert main([*argv, "--detector", "vaegan", "-o", str(tmp_path / "default")]) == 0
    assert anomaly.load(tmp_path / "default").detector_.n_draws == 1  # the time-series default
    assert main([*argv, "--n-draws", "0", "-o", str(tmp_path / "none")]) == 1
    assert "'n_draws' parameter of VAEDetector must be an int in the range [1, inf)" in (
        capsys.readouterr().err
    )
    assert main([*argv, "--detector", "gan", "--n-draws", "2", "-o", str(tmp_path / "gan")]) == 1
    assert "--n-draws applies to --detector vae or vaegan" in capsys.readouterr().err


def test_n_neighbors_reaches_the_detector(tmp_path):
    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--columns", "cpu", "--window-size", "6"]
    options = [([], 5), (["--n-neighbors", "none"], None), (["--n-neighbors", "3"], 3)]
    for option, expected in options:
        assert main([*argv, *option, "--epochs", "1", "-o", str(tmp_path / "model")]) == 0
        assert anomaly.load(tmp_path / "model").detector_.n_neighbors_ == expected


def test_fit_stops_early_unless_told_not_to(tmp_path):
    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "3"]
    assert main([*argv, "-o", str(tmp_path / "default")]) == 0
    inner = anomaly.load(tmp_path / "default").detector_
    assert inner.get_params() | WINDOW_EARLY_STOPPING == inner.get_params()
    assert "val_loss" in inner.history_
    assert main([*argv, "--no-early-stopping", "-o", str(tmp_path / "every")]) == 0
    inner = anomaly.load(tmp_path / "every").detector_
    assert inner.validation_fraction is None and len(inner.history_["loss"]) == 3


def test_compare_prints_the_table_and_saves_the_roc_plot(tmp_path, capsys, monkeypatch):
    from anomaly.datasets import embedded, make_clusters

    # Two small sets instead of the four embedded ones: this checks the wiring, not the numbers.
    small = {
        "a": make_clusters(n_normal=150, n_anomalies=8, random_state=1),
        "b": make_clusters(n_normal=150, n_anomalies=8, random_state=2),
    }
    monkeypatch.setattr(embedded, "load_embedded", lambda: small)
    assert main(["compare", "--epochs", "2", "--output-dir", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "ROC-AUC" in printed
    for name in ["VAEDetector", "GANDetector", "VAEGANDetector", "IForest", "KNN", "LOF", "ECOD"]:
        assert name in printed
    table = pd.read_csv(tmp_path / "out" / "comparison.csv")
    assert len(table) == 7 * 2 * 2  # detectors x datasets x (ROC-AUC, PR-AUC)
    assert (tmp_path / "out" / "roc_curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("chunk_rows", ["1", "2", "1000"])
def test_timestamp_format_is_fixed_by_the_first_rows(model, tmp_path, capsys, chunk_rows):
    # Day-first dates: "13/02/2024" cannot be month-first. Whatever the chunks, the format comes
    # from the first value, as read_series_csv does, and the same line is refused.
    lines = ["time,cpu,memory"] + [f"{d:02d}/01/2024,0.1,0.2" for d in range(1, 13)]
    lines.append("13/01/2024,0.1,0.2")
    (tmp_path / "input.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.csv"
    argv = ["score", str(model), str(tmp_path / "input.csv"), "-o", str(out)]
    code = main([*argv, "--chunk-rows", chunk_rows])
    error = capsys.readouterr().err
    # pandas infers month-first from "01/01/2024": the 13th month is refused on line 14.
    assert code == 1 and "line 14: '13/01/2024' in 'time' is not a timestamp" in error, error
    assert not out.exists()


def test_stride_beyond_the_window_is_a_clear_error(tmp_path, capsys):
    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "4", "--stride", "5"]
    assert main([*argv, "-o", str(tmp_path / "m")]) == 1
    assert "stride=5 is larger than window_size=4" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_output_into_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "1"]
    assert main([*argv, "-o", str(tmp_path / "no" / "model")]) == 1
    assert f"No folder {tmp_path / 'no'} to write model into" in capsys.readouterr().err


def test_an_output_that_cannot_be_written_is_refused_before_the_work(tmp_path, capsys, monkeypatch):
    from anomaly import cli

    write_series(tmp_path / "train.csv")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").touch()
    monkeypatch.setattr(cli.TimeSeriesDetector, "fit", lambda *args: pytest.fail("trained"))
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "1", "-o"]
    assert main([*argv, str(tmp_path / "folder")]) == 1
    assert f"Is a folder, not a file: {tmp_path / 'folder'}" in capsys.readouterr().err
    monkeypatch.setattr("anomaly.comparison.compare", lambda *a, **k: pytest.fail("compared"))
    assert main(["compare", "--output-dir", str(tmp_path / "file" / "out")]) == 1
    assert "error" in capsys.readouterr().err


def test_scores_to_stdout_hold_only_the_scores(model, tmp_path, capsys):
    write_series(tmp_path / "input.csv", n_rows=30, seed=1)
    assert main(["score", str(model), str(tmp_path / "input.csv"), "-o", "/dev/stdout"]) == 0
    captured = capsys.readouterr()
    assert "scored 30 rows" in captured.err and "scored" not in captured.out


def test_a_model_fitted_to_stdout_redirected_to_a_file_loads(tmp_path, capsys):
    write_series(tmp_path / "train.csv")
    path = tmp_path / "model.safetensors"
    saved = os.dup(1)
    with open(path, "wb") as redirected:  # as `> model.safetensors` would
        os.dup2(redirected.fileno(), 1)
    try:
        argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "1"]
        assert main([*argv, "-o", "/dev/stdout"]) == 0
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert "fitted on 120 rows" in capsys.readouterr().err
    assert isinstance(anomaly.load(path), anomaly.TimeSeriesDetector)


def test_trailing_rows_of_empty_cells_are_no_rows(model, tmp_path):
    frame = write_series(tmp_path / "input.csv", n_rows=30, seed=1)
    with open(tmp_path / "input.csv", "a") as handle:
        handle.write(",,\n,,\n")  # as spreadsheets export
    assert (
        main(["score", str(model), str(tmp_path / "input.csv"), "-o", str(tmp_path / "o.csv")]) == 0
    )
    assert len(pd.read_csv(tmp_path / "o.csv")) == len(frame)


@pytest.mark.parametrize("name", ["label", "anomaly_score"])
def test_a_timestamp_column_named_as_an_output_column_is_refused(model, tmp_path, capsys, name):
    frame = write_series(tmp_path / "input.csv", n_rows=30, seed=1)
    frame.rename(columns={"time": name}).to_csv(tmp_path / "input.csv", index=False)
    out = tmp_path / "o.parquet"
    assert main(["score", str(model), str(tmp_path / "input.csv"), "-o", str(out)]) == 1
    assert f"The timestamp column is named {name!r}" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("link", [None, "symlink", "hardlink"])
def test_an_output_that_is_the_input_is_refused_before_reading(model, tmp_path, capsys, link):
    write_series(tmp_path / "data.csv")
    original = (tmp_path / "data.csv").read_bytes()
    output = tmp_path / "data.csv"
    if link == "symlink":
        (tmp_path / "link.csv").symlink_to(tmp_path / "data.csv")
        output = tmp_path / "link.csv"
    elif link == "hardlink":
        (tmp_path / "link.csv").hardlink_to(tmp_path / "data.csv")
        output = tmp_path / "link.csv"
    assert main(["score", str(model), str(tmp_path / "data.csv"), "-o", str(output)]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert (tmp_path / "data.csv").read_bytes() == original
    assert main(["fit", str(tmp_path / "data.csv"), "-o", str(output)]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert (tmp_path / "data.csv").read_bytes() == original
    assert main(["score", str(model), str(tmp_path / "data.csv"), "-o", str(model)]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert anomaly.load(model)  # the model file is intact


class _FullDisk:
    """A file whose writes fail as on a full disk (ENOSPC), after the first ``room`` bytes."""

    def __init__(self, handle, room):
        self.handle, self.room = handle, room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


@pytest.mark.parametrize("command", ["score", "fit"])
def test_a_full_disk_is_one_line_naming_the_disk_and_leaves_nothing(
    model, tmp_path, capsys, monkeypatch, command
):
    import builtins

    from anomaly import _atomic

    write_series(tmp_path / "data.csv", n_rows=300)
    out = tmp_path / "out" / "result"
    out.parent.mkdir()
    monkeypatch.setattr(
        _atomic, "open", lambda *args: _FullDisk(builtins.open(*args), room=100), raising=False
    )
    if command == "score":
        argv = ["score", str(model), str(tmp_path / "data.csv"), "-o", str(out)]
    else:
        argv = ["fit", str(tmp_path / "data.csv"), "--window-size", "6", "--epochs", "1"]
        argv += ["-o", str(out)]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    disk = re.search(f"no space left on the disk mounted at (.+) while writing {out}", error)
    assert disk and os.path.ismount(disk[1]), error
    assert list(out.parent.iterdir()) == []  # no output, no temporary file


def test_fit_threads_follow_the_idle_cores_or_the_option_and_are_restored(tmp_path, monkeypatch):
    import torch

    from anomaly import cli

    write_series(tmp_path / "train.csv")
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", "6", "--epochs", "1"]
    seen = []
    real_fit = cli.TimeSeriesDetector.fit

    def spy(self, X, y=None):
        seen.append(torch.get_num_threads())
        return real_fit(self, X, y)

    monkeypatch.setattr(cli.TimeSeriesDetector, "fit", spy)
    before = torch.get_num_threads()
    monkeypatch.setattr(cli, "idle_cores", lambda: 0.3)  # the other processes take every core
    assert main([*argv, "-o", str(tmp_path / "busy")]) == 0
    assert main([*argv, "--threads", "3", "-o", str(tmp_path / "three")]) == 0
    assert seen == [1, 3] and torch.get_num_threads() == before
    assert main([*argv, "--threads", "0", "-o", str(tmp_path / "none")]) == 1
    # Restored after a failed command too.
    missing = ["score", str(tmp_path / "three"), str(tmp_path / "missing.csv"), "-o"]
    assert main([*missing, str(tmp_path / "out.csv"), "--threads", "3"]) == 1
    assert torch.get_num_threads() == before


def test_score_keeps_torchs_threads_on_a_busy_machine_or_takes_the_option(
    model, tmp_path, monkeypatch
):
    import torch

    from anomaly import cli

    write_series(tmp_path / "input.csv", n_rows=60, seed=2)
    seen = []
    real_score_file = cli.score_file

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_score_file(*args, **kwargs)

    monkeypatch.setattr(cli, "score_file", spy)
    monkeypatch.setattr(cli, "idle_cores", lambda: 0.3)  # the other processes take every core
    before = torch.get_num_threads()
    argv = ["score", str(model), str(tmp_path / "input.csv"), "-o", str(tmp_path / "out.csv")]
    assert main(argv) == 0
    assert main([*argv, "--threads", "3"]) == 0
    # Blocks side by side do not stall each other: scoring keeps one per core.
    assert seen == [before, 3] and torch.get_num_threads() == before


def test_explain_adds_each_variables_score_or_the_top_ones(model, tmp_path, capsys):
    frame = write_series(tmp_path / "input.csv", n_rows=60, seed=2)
    out = tmp_path / "scores.csv"
    argv = ["score", str(model), str(tmp_path / "input.csv"), "-o", str(out), "--chunk-rows", "7"]
    assert main([*argv, "--explain", "--explain-top", "2"]) == 0
    scores = pd.read_csv(out, dtype={"time": str})
    assert list(scores.columns) == [
        "time",
        "anomaly_score",
        "label",
        "score_cpu",
        "score_memory",
        "top_1",
        "top_2",
    ]
    detector = anomaly.load(model)
    expected = detector.feature_scores(frame[["cpu", "memory"]])
    np.testing.assert_array_equal(scores[["score_cpu", "score_memory"]], expected)
    np.testing.assert_array_equal(
        scores["anomaly_score"], -detector.score_samples(frame[["cpu", "memory"]])
    )
    top = np.where(expected["cpu"] >= expected["memory"], "cpu", "memory")
    np.testing.assert_array_equal(scores["top_1"], top)
    assert set(scores["top_1"] + scores["top_2"]) <= {"cpumemory", "memorycpu"}
    assert main([*argv, "--explain-top", "3"]) == 1
    assert "explain_top must be from 1 to 2, got 3" in capsys.readouterr().err


def test_a_model_fitted_with_missing_marginalize_scores_files_with_empty_cells(tmp_path, capsys):
    frame = write_series(tmp_path / "train.csv", n_rows=150)
    frame.loc[[10, 40, 41], "cpu"] = np.nan
    frame.loc[[70], "memory"] = np.nan
    frame.to_csv(tmp_path / "train.csv", index=False)  # NaN written as empty cells
    model = tmp_path / "model.safetensors"
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", str(WINDOW), "--epochs", "2"]
    assert main([*argv, "--missing", "marginalize", "-o", str(model)]) == 0
    out = tmp_path / "scores.csv"
    assert main(["score", str(model), str(tmp_path / "train.csv"), "-o", str(out)]) == 0
    scores = pd.read_csv(out)
    expected = -anomaly.load(model).score_samples(frame[["cpu", "memory"]])
    np.testing.assert_array_equal(scores["anomaly_score"], expected)
    # A model that refuses missing values refuses the file, naming the line.
    refusing = tmp_path / "refusing.safetensors"
    write_series(tmp_path / "complete.csv")
    complete = ["fit", str(tmp_path / "complete.csv"), "--window-size", str(WINDOW)]
    assert main([*complete, "--epochs", "1", "-o", str(refusing)]) == 0
    argv = ["score", str(refusing), str(tmp_path / "train.csv"), "-o", str(tmp_path / "s.csv")]
    assert main(argv) == 1
    assert "line 12: missing value in 'cpu'" in capsys.readouterr().err
    # Every detector takes gaps with --missing marginalize.
    gan = tmp_path / "gan.safetensors"
    argv = ["fit", str(tmp_path / "train.csv"), "--window-size", str(WINDOW), "--epochs", "1"]
    assert main([*argv, "--missing", "marginalize", "--detector", "gan", "-o", str(gan)]) == 0
    assert main(["score", str(gan), str(tmp_path / "train.csv"), "-o", str(out)]) == 0
    assert np.isfinite(pd.read_csv(out)["anomaly_score"]).all()
