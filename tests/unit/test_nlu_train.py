"""The training loop: the held-out score that picks the epoch, and the CPU options (bf16 autocast, frozen
word embeddings)."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from bot.nlu.data import Encoded, Example, encode_examples
from bot.nlu.encoder import cpu_train_bf16, encoder_path
from bot.nlu.model import Heads, MultiTaskModel, Outputs
from bot.nlu.tagging import IGNORED
from bot.nlu.train import TrainSettings, Validation, evaluate, train

TEXTS = ("where is my parcel", "my order has not arrived", "cancel my order please", "I want to cancel it")


def fit(settings: TrainSettings) -> tuple[MultiTaskModel, MultiTaskModel, list[torch.dtype]]:
    """A copy of the model before training, the trained model, and the dtypes its encoder computed in."""
    checkpoint = encoder_path(None)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    torch.manual_seed(0)
    model = MultiTaskModel(AutoModel.from_pretrained(checkpoint), Heads(2, 1, 7))
    before = copy.deepcopy(model)
    items = encode_examples(tokenizer, [Example(t, intent=i // 2) for i, t in enumerate(TEXTS)], {"O": 0}, 32)
    seen: list[torch.dtype] = []
    layer = model.encoder.encoder.layer[0].output.dense
    layer.register_forward_hook(lambda module, inputs, out: seen.append(out.dtype))
    train(model, items, items[:2], settings, tokenizer.pad_token_id, torch.device("cpu"))
    return before, model, seen


def test_frozen_word_embeddings_stay_while_the_rest_learns() -> None:
    before, after, seen = fit(TrainSettings(epochs=1, batch_size=2, freeze_word_embeddings=True))
    embeddings = (m.encoder.get_input_embeddings().weight for m in (before, after))
    assert torch.equal(*embeddings)
    layers = (m.encoder.encoder.layer[0].output.dense.weight for m in (before, after))
    assert not torch.equal(*layers)
    assert set(seen) == {torch.float32}


def test_word_embeddings_learn_unless_frozen_and_bf16_autocast_runs_on_the_cpu() -> None:
    before, after, seen = fit(TrainSettings(epochs=1, batch_size=2, cpu_bf16=True))
    embeddings = (m.encoder.get_input_embeddings().weight for m in (before, after))
    assert not torch.equal(*embeddings)
    assert torch.bfloat16 in seen
    assert after.encoder.get_input_embeddings().weight.dtype == torch.float32  # master weights stay fp32


@pytest.mark.parametrize("native", [True, False])
def test_auto_train_precision_takes_bf16_only_where_the_cpu_computes_it(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    assert cpu_train_bf16("auto") is native
    assert cpu_train_bf16("bf16") and not cpu_train_bf16("fp32")
    with pytest.raises(ValueError, match="train_precision must be one of auto, fp32, bf16"):
        cpu_train_bf16("int8")


def validation(accuracy: float, loss: float) -> Validation:
    return Validation(loss, accuracy, torch.empty(0), torch.empty(0))


def test_the_best_epoch_is_the_most_accurate_and_loss_only_breaks_ties() -> None:
    assert validation(0.93, 0.40).better_than(validation(0.92, 0.35))
    assert not validation(0.92, 0.35).better_than(validation(0.93, 0.40))
    assert validation(0.93, 0.30).better_than(validation(0.93, 0.40))
    assert validation(0.0, 9.9).better_than(None)


class Fixed(torch.nn.Module):
    """Answers every example with the same intent 0, emotion 0 and tag 0."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Outputs:
        rows, width = input_ids.shape
        one_hot = torch.zeros(rows, 3)
        one_hot[:, 0] = 1.0
        return Outputs(one_hot, one_hot.unsqueeze(1).expand(rows, width, 3), one_hot)


def test_an_example_counts_as_right_only_with_every_label_it_has_right() -> None:
    items = [Encoded([1, 2], [0, 0], 0, IGNORED, [(0, 1), (1, 2)]),  # right
             Encoded([1, 2], [0, 1], 0, IGNORED, [(0, 1), (1, 2)]),  # one tag wrong
             Encoded([1], [IGNORED], IGNORED, 0, [(0, 1)]),  # emotion only, right
             Encoded([1], [IGNORED], 1, 0, [(0, 1)])]  # intent wrong
    score = evaluate(Fixed(), items, 0, torch.device("cpu"), batch_size=2)
    assert score.accuracy == 0.5
    assert score.intent_targets.tolist() in ([0, 0, 1], [0, 1, 0], [1, 0, 0])
