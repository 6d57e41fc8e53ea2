"""Images larger than the network: patches to train, a sliding window to score."""

import pickle

import numpy as np
import pytest
import torch
from scipy.special import logit
from sklearn.metrics import roc_auc_score

from anomaly import GANDetector, VAEDetector, VAEGANDetector, load
from anomaly.detectors import segmenter
from anomaly.detectors.patches import PatchGrid, map_score, random_patches, tiled
from anomaly.detectors.profiles import N_PROFILES

DETECTORS = [VAEDetector, GANDetector, VAEGANDetector]


def fast(detector_class, **params):
    """A detector with few scoring draws where it has them: tests score many patches."""
    if detector_class is not GANDetector:
        params.setdefault("n_draws", 2)
    return detector_class(random_state=0, **params)


def texture(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Vertical streaks under a lighting gradient, with noise: a stand-in for a surface."""
    height, width = size
    streaks = np.sin(np.arange(width) * 1.3 + rng.uniform(0, 6))[None, :]
    lighting = np.linspace(0, rng.uniform(0.5, 2), height)[:, None]
    return (streaks + lighting + 0.3 * rng.normal(size=size)).astype(np.float32)


def with_spot(image: np.ndarray, rng: np.random.Generator, width: int = 5) -> tuple:
    """``image`` with a bright square of ``width`` pixels somewhere, and its mask."""
    y, x = (rng.integers(0, n - width) for n in image.shape)
    image, mask = image.copy(), np.zeros(image.shape, dtype=bool)
    image[y : y + width, x : x + width] += 6
    mask[y : y + width, x : x + width] = True
    return image, mask


def test_patch_grid_covers_the_image_flush_with_its_edges():
    grid = PatchGrid((250, 199), (64, 64))
    covered = np.zeros((250, 199), dtype=int)
    for y, x in grid.corners:
        covered[y : y + 64, x : x + 64] += 1
    assert covered.min() >= 1
    assert (
        max(y for y, _ in grid.corners) == 250 - 64 and max(x for _, x in grid.corners) == 199 - 64
    )


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_tiled_reassembles_each_image_in_order(block):
    rng = np.random.default_rng(0)
    images = [rng.normal(size=(2, h, w)) for h, w in [(40, 33), (16, 16), (250, 199)]]
    out = list(tiled(images, (16, 16), lambda patches: patches, channels_out=2, block=block))
    assert len(out) == 3
    for image, result in zip(images, out):
        np.testing.assert_allclose(result, image)


def test_random_patches_cover_each_image_about_once():
    rng = np.random.default_rng(0)
    images = [np.zeros((1, 64, 64)), np.ones((1, 40, 130))]
    patches = random_patches(images, (16, 32), rng, prepare=np.asarray)
    assert patches.shape == (8 + 11, 16 * 32) and patches.dtype == np.float32
    assert patches[:8].max() == 0 and patches[8:].min() == 1


def test_map_score_is_the_smoothed_maximum():
    flat = np.zeros((40, 40))
    blob = flat.copy()
    blob[18:24, 18:24] = 1
    speck = flat.copy()
    speck[5, 5] = 10  # one pixel: noise, not a defect, though its raw value is higher
    assert map_score(blob) > map_score(speck) > map_score(flat)
    assert map_score(speck, sigma=0) == 10  # unsmoothed: the raw maximum


def test_map_score_leaves_out_the_margin_and_segmenters_leave_an_eighth_of_the_patch():
    anomaly_map = np.zeros((20, 30))
    anomaly_map[10, 15] = 1
    anomaly_map[1, 20] = anomaly_map[12, 29] = 9  # on the rim: second row, last column
    assert map_score(anomaly_map, sigma=0) == 9
    assert map_score(anomaly_map, sigma=0, margin=(2, 1)) == 1
    assert map_score(anomaly_map, sigma=0, margin=(1, 1)) == 9
    assert segmenter.edge_margin((64, 64)) == (8, 8)
    assert segmenter.edge_margin((8, 20)) == (1, 2)
    with pytest.raises(ValueError, match="20 x 30 pixels has nothing inside a margin of 10 x 1"):
        map_score(anomaly_map, sigma=0, margin=(10, 1))


@pytest.mark.parametrize("synthetic_defects", [True, False])
def test_an_image_scores_by_its_map_and_with_a_segmenter_its_profile_steps(synthetic_defects):
    rng = np.random.default_rng(0)
    images = np.stack([texture(rng, (60, 50)) for _ in range(6)])
    detector = fast(VAEDetector, patch_size=16, epochs=1, synthetic_defects=synthetic_defects)
    detector.fit(images)
    maps = detector.anomaly_map(images)
    scores = detector.score_samples(images)
    assert hasattr(detector.network_, "defect_segmenter") is synthetic_defects
    if synthetic_defects:  # defect probabilities, their maximum as they are, off the rim
        assert maps.min() >= 0 and maps.max() <= 1 and "segmentation" in detector.history_
        # The maximum's log-odds, the profile steps, the line, the streak steps and the
        # streaks' break, standardised on the training images.
        scales = detector.image_score_scales_
        assert scales.shape == (2, 2 + 2 * N_PROFILES + 1)
        segmented = np.stack(list(detector._segmented_maps(list(images[:, None]))))
        # The segmenter's maps as defect_map shows them, never lower.
        found = detector._evidence(list(images[:, None]), iter(segmented))
        shown = [segmenter.defect_map(*f, scales, detector.patch_size_) for f in found]
        np.testing.assert_array_equal(maps, shown)
        assert (maps >= segmented).all()
        peak = segmented[:, 2:-2, 2:-2].max(axis=(1, 2))  # 16 // 8 pixels left out
        np.testing.assert_allclose(scales[0, 0], logit(peak).mean(), rtol=1e-6)
        standardized = (logit(peak) - scales[0, 0]) / scales[1, 0]
        assert (-scores >= standardized - 1e-9).all()  # the steps and the line only add
        # A model pickled before the profile steps scores by the map's maximum alone, unbanded.
        state = detector.__getstate__()
        del state["image_score_scales_"]
        old = VAEDetector.__new__(VAEDetector)
        old.__setstate__(state)
        np.testing.assert_allclose(-old.score_samples(images), peak)
        np.testing.assert_array_equal(old.anomaly_map(images), segmented)
        # Continued training keeps the scales (the segmenter is not trained further).
        detector.partial_fit(images[::-1], epochs=1)
        np.testing.assert_array_equal(detector.image_score_scales_, scales)
    else:  # the scoring rule's terms, smoothed
        assert detector.image_score_scales_ is None
        np.testing.assert_allclose(-scores, [map_score(m) for m in maps])


def test_a_band_from_an_edge_ranks_high_and_the_map_marks_it():
    rng = np.random.default_rng(0)
    train = [texture(rng, (96, 80)) for _ in range(20)]
    normal = [texture(rng, (96, 80)) for _ in range(10)]
    banded, masks = [], []
    for _ in range(10):  # down to a third of the image, streaks 30 % stronger: no spot to find
        image, mask = texture(rng, (96, 80)), np.zeros((96, 80), dtype=bool)
        mask[: rng.integers(24, 40)] = True
        image[mask] *= 1.3
        banded.append(image)
        masks.append(mask)
    detector = fast(GANDetector, patch_size=32, epochs=1).fit(train)
    target = [0] * 10 + [1] * 10
    assert roc_auc_score(target, -detector.score_samples(normal + banded)) > 0.95
    maps = detector.anomaly_map(normal + banded)
    pixels = np.concatenate([np.zeros(96 * 80 * 10), np.concatenate(masks).ravel()])
    assert roc_auc_score(pixels, np.concatenate(maps).ravel()) > 0.9
    # The same images by the segmenter alone.
    detector.image_score_scales_ = None
    assert roc_auc_score(target, -detector.score_samples(normal + banded)) < 0.8
    maps = detector.anomaly_map(normal + banded)
    assert roc_auc_score(pixels, np.concatenate(maps).ravel()) < 0.8


def test_a_dark_line_along_the_streaks_ranks_high_and_the_line_only_adds():
    rng = np.random.default_rng(0)
    train = [texture(rng, (96, 80)) for _ in range(20)]
    normal = [texture(rng, (96, 80)) for _ in range(10)]
    cracked = []
    for _ in range(10):  # from the top down, one column darker than the rest of the image
        image = texture(rng, (96, 80))
        # A fixed darkening would leave a crack on a streak's crest no darker than the troughs
        # beside it, and the test would turn on where the segmenter's training lands.
        image[: rng.integers(30, 50), rng.integers(12, 68)] = image.min() - 1
        cracked.append(image)
    detector = fast(GANDetector, patch_size=32, epochs=1).fit(train)
    scores = -detector.score_samples(normal + cracked)
    assert roc_auc_score([0] * 10 + [1] * 10, scores) > 0.95
    # Scored as models fitted before the streak steps, and before the line too: each never
    # higher than the later one; the line lowers every crack, and the most so a crack.
    scales = detector.image_score_scales_
    detector.image_score_scales_ = scales[:, : 2 + N_PROFILES]
    before_streaks = -detector.score_samples(normal + cracked)
    detector.image_score_scales_ = scales[:, : 1 + N_PROFILES]
    added = before_streaks + detector.score_samples(normal + cracked)
    assert (scores >= before_streaks).all()
    assert (added >= 0).all() and (added[10:] > 0).all() and np.argmax(added) >= 10


@pytest.mark.parametrize("detector_class", DETECTORS)
def test_a_small_bright_defect_ranks_high_and_the_map_peaks_on_it(detector_class):
    rng = np.random.default_rng(0)
    train = [texture(rng, (96, 80)) for _ in range(40)]
    normal = [texture(rng, (96, 80)) for _ in range(10)]
    defects, masks = zip(*(with_spot(texture(rng, (96, 80)), rng) for _ in range(10)))
    detector = fast(detector_class, patch_size=32, epochs=8).fit(train)
    assert detector.patch_size_ == (32, 32) and detector.image_shape_ == (1, 32, 32)
    scores = -detector.score_samples(normal + list(defects))
    assert roc_auc_score([0] * 10 + [1] * 10, scores) > 0.9
    maps = detector.anomaly_map(np.stack(defects))
    assert maps.shape == (10, 96, 80)
    peaks = [np.unravel_index(np.argmax(m), m.shape) for m in maps]
    on_defect = [
        mask[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].any()
        for mask, (y, x) in zip(masks, peaks)
    ]
    assert np.mean(on_defect) >= 0.8


def test_unstandardised_inputs_are_standardised_for_the_segmenter_alone(tmp_path):
    # Raw values (about 128 +- 30): the synthetic defects are drawn in units of the texture's
    # spread, which the segmenter's input has only once standardised.
    rng = np.random.default_rng(0)
    raw = lambda image: 128 + 20 * image  # noqa: E731
    train = [raw(texture(rng, (96, 80))) for _ in range(40)]
    normal = [raw(texture(rng, (96, 80))) for _ in range(10)]
    defects = [raw(with_spot(texture(rng, (96, 80)), rng)[0]) for _ in range(10)]
    detector = fast(VAEDetector, standardize=False, patch_size=32, epochs=8).fit(train)
    mean, scale = detector.segmenter_standardization_[:, 0]
    assert 100 < mean < 160 and scale > 10
    scores = -detector.score_samples(normal + defects)
    assert roc_auc_score([0] * 10 + [1] * 10, scores) > 0.9
    detector.save(tmp_path / "raw.safetensors")
    loaded = load(tmp_path / "raw.safetensors")
    np.testing.assert_array_equal(loaded.score_samples(defects), -scores[10:])
    # Standardised inputs need none.
    assert fast(VAEDetector, patch_size=32, epochs=1).fit(train).segmenter_standardization_ is None


def test_odd_and_mixed_image_sizes_go_through_patches(tmp_path):
    rng = np.random.default_rng(1)
    images = [texture(rng, size) for size in [(250, 199), (64, 70), (101, 333)]]
    detector = fast(VAEDetector, patch_size=(32, 48), epochs=1).fit(images)
    maps = detector.anomaly_map(images)
    assert isinstance(maps, list) and [m.shape for m in maps] == [i.shape for i in images]
    reconstructions = detector.reconstruct(images)
    assert [r.shape for r in reconstructions] == [(1, *i.shape) for i in images]
    scores = detector.score_samples(images)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    # Colour images, (n, channels, height, width), as well.
    colour = rng.normal(size=(4, 3, 70, 66))
    assert fast(VAEDetector, patch_size=32, epochs=1).fit(colour).predict(colour).shape == (4,)
    # The patch size is part of the saved model.
    detector.save(tmp_path / "patches.safetensors")
    loaded = load(tmp_path / "patches.safetensors")
    assert loaded.patch_size_ == (32, 48) and loaded.image_shape_ == (1, 32, 48)
    np.testing.assert_array_equal(loaded.score_samples(images), scores)


def test_small_images_go_whole():
    rng = np.random.default_rng(0)
    detector = VAEDetector(epochs=1, random_state=0).fit(rng.normal(size=(20, 28, 28)))
    assert detector.patch_size_ is None and detector.image_shape_ == (1, 28, 28)
    # Narrower than the patch on one side: whole, as before patches existed.
    detector = fast(VAEDetector, epochs=1).fit(rng.normal(size=(6, 32, 128)))
    assert detector.patch_size_ is None and detector.image_shape_ == (1, 32, 128)


def test_a_failed_fit_leaves_no_patch_size():
    detector = VAEDetector(patch_size=16)
    with pytest.raises(ValueError):
        detector.fit([np.full((20, 20), np.nan), np.zeros((20, 30))])
    assert not hasattr(detector, "patch_size_")


def test_bernoulli_likelihoods_take_raw_pixels_in_patches():
    images = np.random.default_rng(0).uniform(size=(4, 40, 40))
    detector = fast(VAEDetector, likelihood="bernoulli", patch_size=16, epochs=1).fit(images)
    assert np.isfinite(detector.score_samples(images)).all()
    with pytest.raises(ValueError, match=r"models values in \[0, 1\]"):
        detector.score_samples([images[0] * 3])


def test_pickles_in_patches_and_from_before_them():
    images = np.random.default_rng(0).normal(size=(4, 40, 40))
    detector = fast(VAEDetector, patch_size=16, epochs=1).fit(images)
    copy = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(copy.score_samples(images), detector.score_samples(images))
    # A detector pickled before patches existed has neither patch_size nor patch_size_.
    whole = fast(VAEDetector, epochs=1).fit(images)
    state = whole.__getstate__()
    del state["patch_size"], state["patch_size_"]
    old = VAEDetector.__new__(VAEDetector)
    old.__setstate__(state)
    assert old.get_params()["patch_size"] is None and old.patch_size_ is None
    np.testing.assert_array_equal(old.score_samples(images), whole.score_samples(images))


def test_wrong_images_are_clear_errors():
    rng = np.random.default_rng(0)
    detector = fast(VAEDetector, patch_size=32, epochs=1).fit(rng.normal(size=(4, 50, 60)))
    with pytest.raises(ValueError, match="3 channels where VAEDetector expects 1"):
        detector.score_samples(rng.normal(size=(2, 3, 50, 60)))
    with pytest.raises(ValueError, match="20 x 60 pixels, smaller than the 32 x 32 patches"):
        detector.score_samples(rng.normal(size=(2, 20, 60)))
    with pytest.raises(ValueError, match="must hold images"):
        detector.score_samples(rng.normal(size=(2, 3000)))
    with pytest.raises(ValueError, match=r"50 channels .*np.moveaxis\(image, -1, 0\)"):
        detector.score_samples([rng.normal(size=(50, 60, 1))])  # colours last
    # Training images no larger than the patch went whole: the error says so.
    unpatched = fast(VAEDetector, patch_size=16, epochs=1).fit(rng.normal(size=(4, 16, 16)))
    with pytest.raises(ValueError, match="patch_size=16 went unused"):
        unpatched.score_samples(rng.normal(size=(2, 40, 40)))
    # Not where the refused image would have gone whole anyway (the default patch_size).
    small = fast(VAEDetector, epochs=1).fit(rng.normal(size=(4, 12, 12)))
    with pytest.raises(ValueError, match="pixels where the detector expects") as error:
        small.score_samples(rng.normal(size=(2, 10, 10)))
    assert "unused" not in str(error.value)
    with pytest.raises(ValueError, match="0 images while at least one is required"):
        VAEDetector().fit(np.zeros((0, 50, 60)))
    for method in ("score_samples", "anomaly_map"):  # an array of no images
        with pytest.raises(ValueError, match="0 images while at least one is required"):
            getattr(detector, method)(np.zeros((0, 50, 60)))
    with pytest.raises(
        ValueError, match=r"patch_size no larger than every image, at most \(20, 60\)"
    ):
        VAEDetector(patch_size=32).fit([rng.normal(size=(50, 60)), rng.normal(size=(20, 60))])
    with pytest.raises(ValueError, match="different sizes"):
        VAEDetector(patch_size=None).fit([rng.normal(size=(50, 60)), rng.normal(size=(40, 60))])
    whole = fast(VAEDetector, patch_size=None, epochs=1).fit(rng.normal(size=(4, 50, 60)))
    with pytest.raises(ValueError, match="only images cut into patches may differ"):
        whole.score_samples([rng.normal(size=(50, 60)), rng.normal(size=(40, 60))])
    with pytest.raises(ValueError, match="patch_size must be an int or"):
        VAEDetector(patch_size=(8, 8, 8)).fit(rng.normal(size=(4, 50, 60)))


def test_images_too_large_to_segment_whole_go_by_sliding_patches(monkeypatch):
    rng = np.random.default_rng(0)
    images = np.stack([texture(rng, (60, 50)) for _ in range(6)])
    detector = fast(VAEDetector, patch_size=16, epochs=1).fit(images)
    whole = detector.anomaly_map(images)
    monkeypatch.setattr(segmenter, "WHOLE_IMAGE_PIXELS", 60 * 50 - 1)
    patched = detector.anomaly_map(images)
    assert patched.shape == whole.shape and patched.min() >= 0 and patched.max() <= 1
    assert not np.allclose(patched, whole)
    # The same segmenter either way: the maps agree on what is abnormal.
    assert np.corrcoef(patched.ravel(), whole.ravel())[0, 1] > 0.5


def test_partial_fit_updates_the_network_and_keeps_the_segmenter():
    rng = np.random.default_rng(0)
    images = np.stack([texture(rng, (48, 40)) for _ in range(6)])
    detector = fast(VAEDetector, patch_size=16, epochs=1).fit(images)
    segmenter = detector.network_.defect_segmenter
    before = {name: value.clone() for name, value in segmenter.state_dict().items()}
    detector.partial_fit(images, epochs=1)
    for name, value in detector.network_.defect_segmenter.state_dict().items():
        assert torch.equal(value, before[name]), name
    maps = detector.anomaly_map(images)
    assert maps.min() >= 0 and maps.max() <= 1


@pytest.mark.parametrize("patch_size", [3, 7])
def test_patches_too_small_for_the_segmenter_are_a_clear_error(patch_size):
    images = np.random.default_rng(0).normal(size=(4, 20, 20))
    with pytest.raises(ValueError, match="at least 8 x 8 pixels.*synthetic_defects=False"):
        VAEDetector(patch_size=patch_size, epochs=1).fit(images)
    assert fast(VAEDetector, patch_size=3, epochs=1, synthetic_defects=False).fit(images)


def test_segment_takes_the_larger_of_the_full_and_half_resolution_maps():
    torch.manual_seed(0)
    unet = segmenter.build_segmenter(1).eval()
    batch = torch.randn(2, 1, 25, 18)  # odd sizes: the half map is interpolated back whole
    with torch.no_grad():
        both = segmenter.segment(unet, batch)
        full = torch.sigmoid(unet(batch))
    assert both.shape == (2, 1, 25, 18)
    assert torch.all(both >= full) and not torch.equal(both, full)
