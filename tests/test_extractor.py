import pytest
import torch
from torch import nn

from stylecore import DEFAULT_LAYERS, VGG19_LAYERS, ConfigError, ImageError, layer_name, vgg19_extractor
from stylecore.model.extractor import IMAGENET_MEAN, IMAGENET_STD

from . import conftest


@pytest.fixture(scope="module")
def torchvision_features(full_extractor):
    """torchvision's own vgg19().features with our seeded weights loaded."""
    features = conftest.torchvision_features()
    features.load_state_dict(full_extractor.features.state_dict())
    return features


def _reference(features: nn.Sequential, image: torch.Tensor, index: int) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return features[: index + 1]((image - mean) / std)


def test_layer_table_matches_torchvision_module_types() -> None:
    features = conftest.torchvision_features()
    for name, index in VGG19_LAYERS.items():
        kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name.rstrip("0123456789_")]
        assert isinstance(features[index], kind), name
    assert [VGG19_LAYERS[n] for n in DEFAULT_LAYERS] == [0, 5, 10, 19, 28]


@pytest.mark.parametrize("layers", [DEFAULT_LAYERS, ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")])
def test_matches_torchvision_slices(full_extractor, torchvision_features, layers) -> None:
    image = torch.rand(2, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = full_extractor(image, layers)
    assert list(ours) == list(layers)
    for name in layers:
        expected = _reference(torchvision_features, image, VGG19_LAYERS[name])
        torch.testing.assert_close(ours[name], expected, rtol=1e-4, atol=1e-5)


def test_conv_taps_are_pre_relu_even_with_relu_taps_alongside(full_extractor) -> None:
    # torchvision's ReLU(inplace=True) would overwrite a captured conv output.
    image = torch.rand(1, 3, 32, 32)
    out = full_extractor(image, ["conv1_1", "relu1_1", "conv4_1"])
    assert out["conv1_1"].min() < 0 and out["conv4_1"].min() < 0
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_builds_only_up_to_deepest_layer() -> None:
    extractor = vgg19_extractor(layers=["conv1_1", "conv3_1"], weights="random")
    assert len(extractor.features) == VGG19_LAYERS["conv3_1"] + 1
    assert sum(p.numel() for p in extractor.parameters()) < 1_000_000  # full VGG19 has ~144M


def test_indices_and_names_are_interchangeable() -> None:
    assert layer_name(21) == layer_name("21") == layer_name(" Conv4_2 ") == "conv4_2"
    extractor = vgg19_extractor(layers=[0, "relu2_1"], weights="random")
    assert extractor.layers == ("conv1_1", "relu2_1")


def test_unknown_layer_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"relu6_1.*valid: conv1_1, relu1_1"):
        layer_name("relu6_1")
    with pytest.raises(ConfigError, match="index 99"):
        layer_name(99)


def test_frozen_and_gradient_reaches_only_the_input(extractor) -> None:
    assert not extractor.training
    assert all(not p.requires_grad for p in extractor.parameters())
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    sum(f.sum() for f in extractor(image).values()).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in extractor.parameters())


def test_forward_subset_stops_at_its_deepest_layer(full_extractor) -> None:
    calls = []
    hook = full_extractor.features[VGG19_LAYERS["conv3_1"]].register_forward_hook(lambda *a: calls.append(1))
    try:
        full_extractor(torch.rand(1, 3, 32, 32), ["conv2_1"])
    finally:
        hook.remove()
    assert calls == []


def test_rejects_layers_it_was_not_built_for(extractor) -> None:
    with pytest.raises(ConfigError, match="built for"):
        extractor(torch.rand(1, 3, 32, 32), ["relu5_4"])


def test_too_small_image_is_a_clear_error(extractor) -> None:
    with pytest.raises(ImageError, match="needs at least 16"):
        extractor(torch.rand(1, 3, 8, 300))


def test_no_nans_at_small_odd_size(extractor) -> None:
    out = extractor(torch.rand(1, 3, 33, 47))
    assert all(torch.isfinite(v).all() for v in out.values())


def test_trunk_shapes_match_the_real_modules(full_extractor) -> None:
    from stylecore.model.layers import trunk_shapes

    shapes = list(trunk_shapes(64, 96, "pool5"))
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        for module, (kind, c_in, c_out, h, w) in zip(full_extractor.features, shapes, strict=True):
            assert x.shape[1] == c_in, kind
            x = module(x)
            assert tuple(x.shape[1:]) == (c_out, h, w), kind


def test_the_extractor_skips_torchs_default_init() -> None:
    """Its weights are filled from a seed or a file at once, so torch's default init (which draws from the global
    generator) is skipped: building one leaves that generator where it was."""
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    vgg19_extractor(layers=["conv2_1"], weights="random:0")
    assert torch.equal(torch.rand(3), expected)
