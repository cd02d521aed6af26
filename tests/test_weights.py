from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from stylecore import WeightsError, resolve_weights, vgg19_extractor
from stylecore.model.weights import HUB_FILE, HUB_REPO, IMAGENET_URL, WeightsSource, imagenet_cache_path

from .conftest import torchvision_features


@pytest.fixture(scope="module")
def tv_features() -> dict[str, torch.Tensor]:
    """torchvision's own freshly initialised VGG19 features (not our init code)."""
    return torchvision_features(seed=3).state_dict()


def _full_checkpoint(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The layout of torchvision's vgg19-dcbb9e9d.pth (classifier kept small here)."""
    return {**{f"features.{k}": v for k, v in features.items()}, "classifier.6.weight": torch.zeros(10, 4)}


def test_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert resolve_weights() == WeightsSource("imagenet")
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random:7")
    assert resolve_weights() == WeightsSource("random", seed=7)
    assert resolve_weights("imagenet") == WeightsSource("imagenet")  # explicit beats env
    path = tmp_path / "w.pth"
    path.touch()
    assert resolve_weights(str(path)) == WeightsSource("file", path=path)


def test_missing_weights_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"does not exist.*STYLECORE_WEIGHTS"):
        resolve_weights(str(tmp_path / "nope.pth"))


def test_random_weights_are_seeded_and_labelled() -> None:
    a = vgg19_extractor(layers=["conv2_1"], weights="random:1")
    b = vgg19_extractor(layers=["conv2_1"], weights="random:1")
    c = vgg19_extractor(layers=["conv2_1"], weights="random:2")
    assert torch.equal(a.features[5].weight, b.features[5].weight)
    assert not torch.equal(a.features[5].weight, c.features[5].weight)
    assert not a.weights.trained and "UNTRAINED" in a.weights.label


def test_random_weights_do_not_depend_on_depth() -> None:
    shallow = vgg19_extractor(layers=["conv1_1"], weights="random")
    deep = vgg19_extractor(layers=["conv5_1"], weights="random")
    assert torch.equal(shallow.features[0].weight, deep.features[0].weight)


@pytest.mark.parametrize("layout", ["full", "features", "safetensors"])
def test_loads_checkpoint_written_by_test(tmp_path: Path, layout: str, tv_features) -> None:
    state, features = _full_checkpoint(tv_features), tv_features
    if layout == "full":
        path = tmp_path / "vgg19.pth"
        torch.save(state, path)
    elif layout == "features":
        path = tmp_path / "vgg19_features.pth"
        torch.save(features, path)
    else:
        path = tmp_path / "vgg19.safetensors"
        save_file({k: v.contiguous() for k, v in features.items()}, str(path))
    extractor = vgg19_extractor(layers=["conv3_1"], weights=str(path))
    assert torch.equal(extractor.features[10].weight, state["features.10.weight"])
    assert extractor.weights.trained and str(path) in extractor.weights.label


def test_missing_key_is_named(tmp_path: Path, tv_features) -> None:
    state = _full_checkpoint(tv_features)
    del state["features.5.bias"]
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(WeightsError, match=r"missing key 'features\.5\.bias'"):
        vgg19_extractor(layers=["conv3_1"], weights=str(tmp_path / "cut.pth"))


def test_wrong_shape_is_named(tmp_path: Path, tv_features) -> None:
    state = _full_checkpoint(tv_features)
    state["features.2.weight"] = torch.zeros(64, 64, 5, 5)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match=r"'2\.weight' has shape \(64, 64, 5, 5\), VGG19 needs \(64, 64, 3, 3\)"):
        vgg19_extractor(layers=["conv2_1"], weights=str(tmp_path / "bad.pth"))


def test_not_a_checkpoint_is_clear(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        vgg19_extractor(weights=str(junk))


def test_offline_without_cache_gives_one_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsError) as info:
        vgg19_extractor(weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    for needed in (str(imagenet_cache_path()), IMAGENET_URL, "STYLECORE_WEIGHTS", "vgg19-dcbb9e9d.pth", "TORCH_HOME"):
        assert needed in message
    assert f"hf download {HUB_REPO} {HUB_FILE}" in message and "preload_from_hub" in message


def test_cached_imagenet_file_is_used_without_network(monkeypatch: pytest.MonkeyPatch, tv_features) -> None:
    state = _full_checkpoint(tv_features)
    path = imagenet_cache_path()
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried the network"))
    extractor = vgg19_extractor(layers=["conv1_1"])
    assert torch.equal(extractor.features[0].weight, state["features.0.weight"])
    assert extractor.weights.kind == "imagenet"


def _fake_hub_cache(root: Path, state: dict[str, torch.Tensor], commit: str = "0123abcd") -> Path:
    """The layout huggingface_hub writes: refs/main names a snapshot holding the file."""
    repo = root / f"models--{HUB_REPO.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    path = repo / "snapshots" / commit / HUB_FILE
    path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def test_timm_file_in_the_hugging_face_cache_comes_first(monkeypatch: pytest.MonkeyPatch, tv_features) -> None:
    import huggingface_hub.constants
    import safetensors

    timm_state = {f"features.{k}": v for k, v in tv_features.items()}
    timm_state |= {"pre_logits.fc1.weight": torch.ones(8, 4), "head.fc.weight": torch.ones(3, 8)}  # never read
    _fake_hub_cache(Path(huggingface_hub.constants.HF_HUB_CACHE), timm_state)
    torch_cache = imagenet_cache_path()  # a different file in torch's cache must lose
    torch_cache.parent.mkdir(parents=True)
    torch.save({f"features.{k}": torch.zeros_like(v) for k, v in tv_features.items()}, torch_cache)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried the network"))

    read: list[str] = []
    real_open = safetensors.safe_open

    class Spy:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.inner = real_open(*args, **kwargs)

        def __enter__(self) -> "Spy":
            self.handle = self.inner.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.__exit__(*exc)

        def keys(self) -> list[str]:
            return list(self.handle.keys())

        def get_tensor(self, key: str) -> torch.Tensor:
            read.append(key)
            return self.handle.get_tensor(key)

    monkeypatch.setattr(safetensors, "safe_open", Spy)
    extractor = vgg19_extractor(layers=["conv5_1"])
    assert torch.equal(extractor.features[28].weight, tv_features["28.weight"])
    assert extractor.weights == WeightsSource("imagenet")
    assert read and all(key.startswith("features.") for key in read)
