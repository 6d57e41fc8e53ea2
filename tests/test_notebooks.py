"""Every notebook runs top to bottom and shows at least one figure."""

import pytest

from notebooks.execute import execute, notebooks


@pytest.mark.parametrize("path", notebooks(), ids=lambda path: path.stem)
def test_notebook_runs_and_shows_a_figure(path):
    notebook = execute(path)  # raises on the first failing cell
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert any("image/png" in output.get("data", {}) for output in outputs)
    assert not any(output.output_type == "error" for output in outputs)


def test_there_are_five_notebooks():
    assert [path.stem for path in notebooks()] == [
        "01_quick_start",
        "02_compare_tabular",
        "03_one_class_images",
        "04_csv_time_series",
        "05_vae_vs_gan",
    ]
