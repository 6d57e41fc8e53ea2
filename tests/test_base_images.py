"""Images through every detector: shapes, backbones, anomaly maps, bad inputs."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import anomaly
from tests.conftest import bar_images

CONV = dict(conv_channels=(8, 16), latent_dim=4)


@pytest.fixture(scope="module")
def bars():
    return bar_images()


@pytest.fixture(scope="module", params=["VAEDetector", "GANDetector", "VAEGANDetector"])
def fitted_on_images(request, bars):
    from tests.conftest import DETECTOR_FACTORIES

    images, _, _ = bars
    return DETECTOR_FACTORIES[request.param](**CONV, epochs=15).fit(images[:200])


def test_images_get_the_convolutional_backbone(fitted_on_images, bars):
    images, _, _ = bars
    assert fitted_on_images.image_shape_ == (1, 12, 10)
    assert fitted_on_images.backbone_ == "conv"
    assert fitted_on_images.n_features_in_ == 120
    assert fitted_on_images.score_samples(images).shape == (len(images),)
    assert fitted_on_images.anomaly_map(images[:5]).shape == (5, 12, 10)


def test_a_clear_anomaly_ranks_far_above_chance(fitted_on_images, bars):
    images, labels, _ = bars
    assert roc_auc_score(labels, -fitted_on_images.score_samples(images)) > 0.9


def test_anomaly_maps_point_at_the_defect(fitted_on_images, bars):
    images, labels, masks = bars
    maps = fitted_on_images.anomaly_map(images[labels == 1])
    # Pixel ROC-AUC of the maps against the defect masks of the anomalous images.
    assert roc_auc_score(masks[labels == 1].ravel(), maps.ravel()) > 0.8


def test_flattened_images_with_image_shape_score_the_same(make, bars):
    images, _, _ = bars
    as_images = make(**CONV).fit(images)
    flat = images.reshape(len(images), -1)
    as_rows = make(**CONV, image_shape=(12, 10)).fit(flat)
    assert as_rows.backbone_ == "conv" and as_rows.image_shape_ == (1, 12, 10)
    np.testing.assert_array_equal(as_rows.score_samples(flat), as_images.score_samples(images))
    # Either layout can be scored by a model fitted on the other.
    np.testing.assert_array_equal(as_images.score_samples(flat), as_rows.score_samples(images))


@pytest.mark.parametrize("image_shape", [(3, 9, 11), (2, 5, 7)])
def test_channels_and_odd_sizes(make, image_shape):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(40, *image_shape))
    detector = make(**CONV, epochs=2).fit(images)
    assert detector.image_shape_ == image_shape
    assert detector.score_samples(images).shape == (40,)
    assert detector.anomaly_map(images).shape == (40, *image_shape[1:])


def test_mlp_backbone_flattens_images(make, bars):
    images, _, _ = bars
    detector = make(backbone="mlp", epochs=2).fit(images)
    assert detector.backbone_ == "mlp"
    assert detector.anomaly_map(images[:2]).shape == (2, 12, 10)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli", "continuous_bernoulli"])
@pytest.mark.parametrize("cls", [anomaly.VAEDetector, anomaly.VAEGANDetector])
def test_reconstruction_probability_is_the_summed_map(cls, likelihood, bars):
    images, _, _ = bars
    detector = cls(
        **CONV, likelihood=likelihood, n_neighbors=None, epochs=2, n_draws=4, random_state=0
    )
    detector.fit(images)
    scores = detector.score_samples(images)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, -detector.anomaly_map(images).sum(axis=(1, 2)), rtol=1e-5)


def test_bernoulli_inputs_are_not_standardized(bars):
    images, _, _ = bars
    detector = anomaly.VAEDetector(**CONV, likelihood="bernoulli", epochs=1, random_state=0)
    detector.fit(images)
    assert (detector.feature_mean_ == 0).all() and (detector.feature_scale_ == 1).all()


def test_gaussian_images_are_standardized_per_channel():
    rng = np.random.default_rng(0)
    images = rng.normal(loc=[[[5.0]], [[-2.0]]], scale=[[[2.0]], [[0.5]]], size=(50, 2, 4, 3))
    detector = anomaly.VAEDetector(**CONV, epochs=1, random_state=0).fit(images)
    assert np.unique(detector.feature_mean_[:12]).size == 1
    channels = images.transpose(1, 0, 2, 3).reshape(2, -1)
    np.testing.assert_allclose(detector.feature_mean_[[0, 12]], channels.mean(axis=1))
    np.testing.assert_allclose(detector.feature_scale_[[0, 12]], channels.std(axis=1))


def test_images_in_a_pipeline(make, bars):
    images, _, _ = bars
    pixels = np.round(images * 255).astype(np.uint8)
    pipeline = make_pipeline(FunctionTransformer(lambda x: x / 255.0), make(**CONV, epochs=2))
    pipeline.fit(pixels)
    assert pipeline.predict(pixels).shape == (len(pixels),)
    alone = make(**CONV, epochs=2).fit(pixels / 255.0)
    np.testing.assert_array_equal(
        pipeline.score_samples(pixels), alone.score_samples(pixels / 255.0)
    )


def test_image_models_persist(fitted_on_images, bars, tmp_path):
    images, _, _ = bars
    fitted_on_images.save(tmp_path / "model.safetensors")
    loaded = anomaly.load(tmp_path / "model.safetensors")
    unpickled = pickle.loads(pickle.dumps(fitted_on_images))
    expected = fitted_on_images.score_samples(images)
    for restored in (loaded, unpickled):
        assert tuple(restored.image_shape_) == (1, 12, 10)
        np.testing.assert_array_equal(restored.score_samples(images), expected)
        np.testing.assert_array_equal(
            restored.anomaly_map(images[:3]), fitted_on_images.anomaly_map(images[:3])
        )


def test_scoring_memory_is_bounded_by_blocks(fitted_on_images, bars):
    images, _, _ = bars
    expected = fitted_on_images.score_samples(images)
    # A row's activations, and its float64 distance to each reference (n_neighbors="auto").
    references = len(fitted_on_images.neighbor_features_)
    row_mib = (fitted_on_images._scoring_row_bytes() + 8 * references) / 2**20
    with sklearn.config_context(working_memory=row_mib * 16):
        assert fitted_on_images._scoring_block_rows() == 16
        np.testing.assert_allclose(fitted_on_images.score_samples(images), expected, rtol=1e-6)


BAD_IMAGES = {
    "channels": (np.zeros((2, 3, 12, 10)), "3 channels where the detector expects 1"),
    "colours last": ([np.zeros((12, 10, 1))] * 2, r"np.moveaxis\(image, -1, 0\)"),
    "size": (np.zeros((2, 12, 11)), r"\(12, 11\) pixels where the detector expects \(12, 10\)"),
    "NaN pixel": (np.full((2, 12, 10), np.nan), "NaN"),
    "5-D": (np.zeros((2, 1, 1, 12, 10)), "got a 5-D array"),
    "flat, wrong size": (np.zeros((2, 100)), "X has 100 features"),
}


@pytest.mark.parametrize("name", BAD_IMAGES)
def test_bad_images_at_scoring_time_name_the_problem(fitted_on_images, name):
    X, message = BAD_IMAGES[name]
    with pytest.raises(ValueError, match=message):
        fitted_on_images.score_samples(X)
    with pytest.raises(ValueError, match=message):
        fitted_on_images.anomaly_map(X)


def test_bernoulli_needs_values_in_the_unit_interval(bars):
    images, _, _ = bars
    detector = anomaly.VAEDetector(likelihood="bernoulli", epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"values in \[0, 1\] but X has values in \[0.0\d+, 255\]"):
        detector.fit(images * 255)
    detector.fit(images)
    with pytest.raises(ValueError, match="scale the data to"):
        detector.score_samples(images - 0.5)


def test_channels_last_images_are_warned_of(bars):
    # (n, height, width, colours), as PIL and imageio give them, read as 12 channels.
    images = np.repeat(bars[0][:20, :, :, None], 3, axis=3)
    detector = anomaly.VAEDetector(conv_channels=(4,), latent_dim=2, epochs=1, random_state=0)
    with pytest.warns(UserWarning, match=r"12 channels of 10 x 3 pixels.*np.moveaxis"):
        detector.fit(images)
    # Grey images with a channel axis last, as Keras holds them: (n, 28, 28, 1).
    with pytest.warns(UserWarning, match=r"12 channels of 10 x 1 pixels.*np.moveaxis") as caught:
        detector.fit_predict(images[..., :1])
    assert caught[0].filename == __file__  # the warning points at the caller's line
    # Colour images of different sizes, colours last: refused, with the same hint.
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"channel counts \[80, 90\].*np.moveaxis"):
        detector.fit([rng.uniform(size=(80, 70, 3)), rng.uniform(size=(90, 72, 3))])


def test_conv_backbone_needs_images(make, blobs):
    with pytest.raises(ValueError, match="backbone='conv' needs images"):
        make(backbone="conv").fit(blobs)


@pytest.mark.parametrize(
    ("image_shape", "message"),
    [
        ((2, 3), "holds 6 values but X has 120 features"),
        ((1, 2, 3, 4), "image_shape must be"),
        ((12, "10"), "image_shape must hold positive integer"),
        ((0, 120), "image_shape must hold positive integer"),
    ],
)
def test_bad_image_shape_parameter(make, bars, image_shape, message):
    flat = bars[0].reshape(len(bars[0]), -1)
    with pytest.raises(ValueError, match=message):
        make(image_shape=image_shape).fit(flat)


def test_image_shape_must_match_the_images(make, bars):
    with pytest.raises(ValueError, match=r"but image_shape is \(1, 10, 12\)"):
        make(image_shape=(10, 12)).fit(bars[0])


def test_rows_have_no_anomaly_map(fitted, blobs):
    with pytest.raises(ValueError, match="fitted on rows, not images"):
        fitted.anomaly_map(blobs)


def test_rows_have_feature_scores_and_images_do_not(fitted, blobs, fitted_on_images, bars):
    scores = fitted.feature_scores(blobs)
    assert scores.shape == blobs.shape and np.isfinite(scores).all()
    with pytest.raises(ValueError, match="fitted on images: use anomaly_map"):
        fitted_on_images.feature_scores(bars[0][:3])


def test_feature_scores_sum_to_the_reconstruction_probability(blobs):
    import pandas as pd

    from tests.conftest import fast_vae

    frame = pd.DataFrame(blobs, columns=list("abcd"), index=np.arange(100, 220))
    detector = fast_vae().fit(frame)
    scores = detector.feature_scores(frame)
    assert list(scores.columns) == list("abcd") and scores.index.equals(frame.index)
    np.testing.assert_allclose(scores.sum(axis=1), -detector.score_samples(frame), rtol=1e-5)
