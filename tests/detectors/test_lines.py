import numpy as np
import pytest

from anomaly.detectors.lines import LINE_OFFSET, line_contrast


@pytest.mark.parametrize("channels", [1, 3])
def test_a_dark_line_stands_out_down_the_columns_and_across_the_rows(channels):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(channels, 50, 60))
    plain = line_contrast(image, 20)
    down, across = image.copy(), image.copy()
    down[-1, 10:40, 30] -= 3  # one channel is enough
    across[0, 25, 5:45] -= 3
    assert line_contrast(down, 20) > plain + 2 and line_contrast(across, 20) > plain + 2
    # A bright line is no crack: only the lines beside it, at the offset, look darker, by half.
    assert line_contrast(image - (down - image), 20) < line_contrast(down, 20) - 0.5


def test_the_margin_leaves_out_a_dark_rim_but_not_a_line_from_the_edge():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 50, 60))
    plain = line_contrast(image, 20, (8, 8))
    rim = image.copy()
    rim[0, :, 2] -= 3  # a dark column inside the margin
    assert line_contrast(rim, 20, (8, 8)) == pytest.approx(plain)
    crack = image.copy()
    crack[0, :22, 30] -= 3  # a crack from the top edge, into the margin along it
    assert line_contrast(crack, 20, (8, 8)) > plain + 1.5


def test_narrow_images_bring_the_neighbours_closer():
    image = np.zeros((1, 8, 2 * LINE_OFFSET))  # too narrow for lines down the columns
    image[0, :, 2] = -1
    assert line_contrast(image, 6, (1, 1)) == 1  # the line between its neighbours, 1 away
    assert np.isfinite(line_contrast(np.zeros((1, 8, 8)), 2, (1, 1)))


@pytest.mark.parametrize(
    ("shape", "length", "margin"),
    [((1, 20, 20), 0, (0, 0)), ((1, 20, 20), 21, (0, 0)), ((1, 20, 20), 5, (9, 0))],
)
def test_lines_that_do_not_fit_are_a_clear_error(shape, length, margin):
    with pytest.raises(ValueError, match="line_contrast needs lines"):
        line_contrast(np.zeros(shape), length, margin)
