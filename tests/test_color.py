import torch

from stylecore.imaging.color import luminance_images, match_color, rgb_to_yiq, with_content_chroma, yiq_to_rgb


def _image(seed: int, shape=(1, 3, 24, 32)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def test_yiq_roundtrip_and_grey_has_no_chroma() -> None:
    image = _image(0)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(image)), image, atol=1e-5, rtol=0)
    grey = torch.full((1, 3, 4, 4), 0.4)
    assert rgb_to_yiq(grey)[:, 1:].abs().max() < 1e-6


def test_match_color_gives_the_content_mean_and_covariance() -> None:
    content = _image(1) * torch.tensor([0.3, 0.9, 0.5]).view(1, 3, 1, 1)  # coloured, correlated
    style = _image(2, (1, 3, 40, 20)) ** 2
    matched = match_color(style, content)
    flat_m, flat_c = matched.flatten(2)[0].double(), content.flatten(2)[0].double()
    torch.testing.assert_close(flat_m.mean(1), flat_c.mean(1), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cov(flat_m), torch.cov(flat_c), atol=1e-5, rtol=0)
    assert matched.shape == style.shape


def test_luminance_images_are_grey_and_matched() -> None:
    content, style = _image(3), _image(4, (1, 3, 16, 16)) * 0.3
    content_y, style_y = luminance_images(content, style)
    assert torch.equal(content_y[:, 0], content_y[:, 1]) and torch.equal(style_y[:, 1], style_y[:, 2])
    assert abs(style_y.mean() - content_y.mean()) < 0.02


def test_with_content_chroma_keeps_content_color_and_stylized_luminance() -> None:
    content = 0.4 + 0.2 * _image(5)  # well inside the gamut, so clamping does not interfere
    stylised = 0.4 + 0.2 * _image(6)
    out = with_content_chroma(stylised, content)
    torch.testing.assert_close(rgb_to_yiq(out)[:, 1:], rgb_to_yiq(content)[:, 1:], atol=1e-5, rtol=0)
    torch.testing.assert_close(rgb_to_yiq(out)[:, :1], rgb_to_yiq(stylised)[:, :1], atol=1e-5, rtol=0)


def test_the_colour_policy_acts_in_its_three_places() -> None:
    from stylecore.imaging.color import ColorPolicy

    generator = torch.Generator().manual_seed(7)
    content, style = torch.rand(1, 3, 8, 8, generator=generator), torch.rand(1, 3, 8, 8, generator=generator)
    none, luminance, match = ColorPolicy("none"), ColorPolicy("luminance"), ColorPolicy("match")
    assert torch.equal(none.styles([style], content)[0], style) and torch.equal(none.content(content), content)
    assert torch.equal(none.present(style, content), style) and not none.recolours
    grey = luminance.content(content)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])  # luminance only
    assert torch.equal(luminance.styles([style], content)[0], luminance_images(content, style)[1])
    shown = luminance.present(grey, content)
    torch.testing.assert_close(rgb_to_yiq(shown)[:, 1:], rgb_to_yiq(content)[:, 1:], atol=1e-5, rtol=0)
    assert torch.equal(match.styles([style], content)[0], match_color(style, content).clamp(0, 1))
    assert torch.equal(match.content(content), content) and torch.equal(match.present(style, content), style)
