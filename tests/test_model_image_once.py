"""At inference the vision tower and pixel decoder see each image of a batch once:
an image's referring sentences are predicted together, so a batch holds the same
image several times in a row. The outputs are those of the plain forward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.samples import TrainSample, collate  # noqa: E402
from psalm_bench.model.tokenizer import build_tokenizer  # noqa: E402
from psalm_bench.model.toy import TOY_WORDS, toy_scene  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_and_tok():
    tok = build_tokenizer(TOY_WORDS)
    torch.manual_seed(0)
    return PSALM(get_config("tiny"), tok).eval(), tok


def _tensors(value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if hasattr(value, "__dict__"):
        return [t for v in vars(value).values() for t in _tensors(v)]
    return []


def _referring_batch(tok, images: list[int]):
    samples = []
    for k, seed in enumerate(images):
        image, masks = toy_scene(seed)
        samples.append(TrainSample("referring", image, masks[:1], sentence=["the red square", "the blue circle"][k % 2]))
    return collate(samples, get_config("tiny"), tok, train=False)


def _rows_seen(model, batch) -> tuple[list[int], object]:
    seen: list[int] = []
    hook = model.vision_tower.register_forward_hook(lambda _m, args, _out: seen.append(int(args[0].shape[0])))
    try:
        with torch.inference_mode():
            out = model(batch)
    finally:
        hook.remove()
    return seen, out


def test_repeated_images_run_the_tower_once_with_the_same_outputs(model_and_tok, monkeypatch):
    model, tok = model_and_tok
    batch = _referring_batch(tok, [3, 3, 3, 8, 8, 5])  # three images, in runs
    seen, once = _rows_seen(model, batch)
    assert seen == [3]
    monkeypatch.setattr(PSALM, "_image_features", lambda self, pixels: (self.vision_tower(pixels), None))
    seen_plain, plain = _rows_seen(model, batch)
    assert seen_plain == [6]
    a, b = _tensors(once), _tensors(plain)
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-5)


def test_distinct_images_and_training_take_the_plain_path(model_and_tok):
    model, tok = model_and_tok
    seen, _ = _rows_seen(model, _referring_batch(tok, [1, 2, 1, 2]))  # repeats, but never in a row
    assert seen == [4]
    model.train()
    try:
        feats, owner = model._image_features(_referring_batch(tok, [4, 4]).pixel_values)
    finally:
        model.eval()
    assert owner is None and feats[0].shape[0] == 2
