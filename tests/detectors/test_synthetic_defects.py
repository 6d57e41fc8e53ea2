"""Synthetic defects and the segmenter's loss."""

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from anomaly.detectors.synthetic_defects import corrupt, segmentation_loss


def test_about_half_the_patches_get_a_defect_and_only_where_their_mask_is():
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(400, 2, 32, 32)).astype(np.float32)
    corrupted, masks = corrupt(patches, np.random.default_rng(1))
    defective = masks.reshape(400, -1).any(axis=1)
    assert 0.35 < defective.mean() < 0.55
    np.testing.assert_array_equal(corrupted[~defective], patches[~defective])
    # Soft edges reach a few pixels beyond the mask, never further.
    near = binary_dilation(masks > 0, structure=np.ones((1, 9, 9)))
    changed = (corrupted != patches).any(axis=1)
    assert not (changed & ~near).any()
    assert changed[defective].any(axis=(1, 2)).all()


def test_corruption_is_reproducible_by_seed():
    patches = np.random.default_rng(0).normal(size=(20, 1, 16, 24)).astype(np.float32)
    first = corrupt(patches, np.random.default_rng(5))
    second = corrupt(patches, np.random.default_rng(5))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_the_loss_is_lowest_for_logits_that_outline_the_mask():
    masks = torch.zeros(2, 1, 16, 16)
    masks[:, :, 4:8, 4:8] = 1
    right = segmentation_loss(20 * masks - 10, masks)
    wrong = segmentation_loss(10 - 20 * masks, masks)
    blank = segmentation_loss(torch.full_like(masks, -10.0), masks)
    assert right < blank < wrong and right < 0.01


def test_texture_is_never_pasted_from_the_patch_itself():
    # Two patches, not square (never turned): the texture of the patch itself would change
    # nothing under its mask.
    for n_patches in (2, 1):  # one patch alone has no other texture to paste
        patches = np.random.default_rng(0).normal(size=(n_patches, 1, 16, 24))
        patches = patches.astype(np.float32)
        for seed in range(60):
            corrupted, masks = corrupt(patches, np.random.default_rng(seed))
            defective = masks.reshape(n_patches, -1).any(axis=1)
            changed = ~np.isclose(corrupted, patches, atol=1e-5)  # not rounding alone
            assert changed.any(axis=(1, 2, 3))[defective].all()
