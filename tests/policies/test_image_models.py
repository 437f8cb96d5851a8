"""The paper-style image encoder and decoder: shapes for several image sizes, value ranges, errors."""

from __future__ import annotations

import pytest
import torch

from dilqr_rl.policies.image_models import ImageDecoder, ImageEncoder, pixel_mse, to_unit


@pytest.mark.parametrize(("shape", "out_dim"), [((4, 64, 64), 3), ((1, 32, 32), 2), ((3, 96, 64), 5),
                                                ((3, 224, 224), 3)])
def test_encoder_maps_images_of_several_sizes_to_vectors(shape, out_dim):
    torch.manual_seed(0)
    encoder = ImageEncoder(shape, out_dim)
    assert encoder(torch.rand(2, *shape)).shape == (2, out_dim)
    assert encoder.eval()(torch.rand(1, *shape)).shape == (1, out_dim)  # eval: BatchNorm's running averages


@pytest.mark.parametrize("shape", [(1, 64, 64), (3, 32, 32), (1, 96, 64), (3, 224, 224)])
def test_decoder_maps_vectors_to_images_in_the_unit_interval(shape):
    torch.manual_seed(0)
    decoder = ImageDecoder(3, shape)
    with torch.no_grad():
        images = decoder(torch.randn(2, 3))
    assert images.shape == (2, *shape)
    assert float(images.min()) > 0.0 and float(images.max()) < 1.0


def test_fewer_blocks_allow_smaller_images_and_widths_are_configurable():
    encoder = ImageEncoder((2, 8, 8), 3, channels=(4, 4, 4), hidden=(8, 8))
    decoder = ImageDecoder(3, (1, 8, 8), channels=(4, 4, 4), hidden=(8, 8))
    assert decoder(encoder(torch.rand(2, 2, 8, 8))).shape == (2, 1, 8, 8)


def test_errors_name_the_shape_and_the_fix():
    with pytest.raises(ValueError, match=r"must be positive multiples of 32; got \(C, H, W\) = \(4, 60, 64\)\. "
                                         r"Resize the frames \(e\.g\. size=64\)"):
        ImageEncoder((4, 60, 64), 3)
    with pytest.raises(ValueError, match=r"channels-first images \(C, H, W\); got shape \(64, 64\)"):
        ImageDecoder(3, (64, 64))
    with pytest.raises(ValueError, match=r"ImageEncoder was built for images \(4, 32, 32\); got a batch of shape "
                                         r"\(2, 4, 64, 64\)"):
        ImageEncoder((4, 32, 32), 3)(torch.rand(2, 4, 64, 64))
    with pytest.raises(ValueError, match=r"ImageDecoder maps vectors \(B, 3\); got shape \(2, 2\)"):
        ImageDecoder(3, (1, 32, 32))(torch.rand(2, 2))
    with pytest.raises(ValueError, match="at least one block, two hidden widths and out_dim >= 1"):
        ImageEncoder((1, 32, 32), 3, hidden=(8,))


def test_pixel_mse_and_unit_scaling():
    frames = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    unit = to_unit(frames)
    assert unit.dtype == torch.float32 and unit.tolist() == [[[0.0, 1.0]]]
    assert to_unit(unit, torch.float64).dtype == torch.float64
    assert pixel_mse(unit, torch.zeros(1, 1, 2)).tolist() == [0.5]
