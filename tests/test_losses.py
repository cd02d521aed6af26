import pytest
import torch

from stylecore.objective.functional import content_loss, gram_matrix, relative_error, style_loss, tv_loss


def test_gram_of_hand_made_matrix() -> None:
    # Two channels over a 1x2 image: f1 = (1, 2), f2 = (3, 4).
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / 2  # F F^T / (H W)
    assert torch.equal(gram_matrix(features), expected)


def test_gram_does_not_depend_on_image_size() -> None:
    tile = torch.rand(1, 4, 5, 5)
    assert torch.allclose(gram_matrix(tile), gram_matrix(tile.repeat(1, 1, 3, 2)), atol=1e-6)


def test_tv_of_constant_image_is_zero() -> None:
    assert tv_loss(torch.full((1, 3, 16, 9), 0.3)).item() == 0.0


def test_tv_known_answer() -> None:
    # Vertical stripes 0,1,0,1: every horizontal neighbour differs by 1, vertical by 0.
    image = torch.tensor([0.0, 1.0, 0.0, 1.0]).repeat(1, 1, 3, 1)  # (1, 1, 3, 4)
    assert tv_loss(image).item() == pytest.approx(1.0)


def test_content_loss_of_target_against_itself_is_zero() -> None:
    target = torch.randn(1, 8, 6, 6)
    assert content_loss(target, target).item() == 0.0


def test_relative_error_known_answer_and_scale_invariance() -> None:
    target = torch.tensor([3.0, 4.0])  # ||t||^2 = 25
    x = torch.tensor([3.0, 9.0])  # ||x - t||^2 = 25
    assert relative_error(x, target).item() == pytest.approx(1.0)
    assert relative_error(x * 1000, target * 1000).item() == pytest.approx(1.0)


def test_style_loss_zero_at_target_and_weighted_sum() -> None:
    a, b = torch.rand(1, 4, 4), torch.rand(1, 6, 6)
    targets = {"a": a, "b": b}
    assert style_loss(targets, targets).item() == 0.0
    grams = {"a": 2 * a, "b": b}  # relative error 1 on "a", 0 on "b"
    assert style_loss(grams, targets).item() == pytest.approx(0.5)  # default: equal weights summing to 1
    assert style_loss(grams, targets, {"a": 3.0, "b": 1.0}).item() == pytest.approx(3.0)


def test_losses_are_differentiable() -> None:
    image = torch.rand(1, 3, 8, 8, requires_grad=True)
    (tv_loss(image) + content_loss(image * 2, torch.rand(1, 3, 8, 8))).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_gram_gradient_matches_autograd_of_the_definition() -> None:
    features = torch.randn(2, 5, 3, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(gram_matrix, (features,))
    weights = torch.randn(2, 5, 5, dtype=torch.double)  # non-symmetric upstream gradient
    (ours,) = torch.autograd.grad((gram_matrix(features) * weights).sum(), features)
    flat = features.reshape(2, 5, 12)
    reference = torch.bmm(flat, flat.transpose(1, 2)) / 12
    (expected,) = torch.autograd.grad((reference * weights).sum(), features)
    torch.testing.assert_close(ours, expected)
