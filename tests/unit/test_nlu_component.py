"""The Tandem NLU component: config errors, device choice, training on a small slice, persistence."""

from __future__ import annotations

import copy
import csv
import logging
from pathlib import Path

import pytest
import torch
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from transformers import AutoModel, AutoTokenizer

from bot.nlu import emotion
from bot.nlu.component import TandemTransformerNLU
from bot.nlu.encoder import cpu_precision, encoder_path, for_inference, in_cpu_precision, pick_device
from bot.nlu.model import Heads, MultiTaskModel, TracedModel
from bot.settings import PROJECT_ROOT

INTENTS = ("track_order", "cancel_order", "greet", "thank", "get_refund")
CONTEXT = ExecutionContext(GraphSchema({}), "test")


def tokenized(messages: list[Message]) -> list[Message]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process(messages)
    return messages


def small_slice(per_intent: int = 10) -> TrainingData:
    """A few intents of the product's own data, with their entity annotations."""
    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    kept = [m for intent in INTENTS
            for m in [x for x in data.intent_examples if x.get("intent") == intent][:per_intent]]
    return TrainingData(training_examples=tokenized(kept))


@pytest.fixture(scope="module")
def emotion_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = list(csv.DictReader((PROJECT_ROOT / "data" / "emotion" / "customer_service.csv").open()))
    path = tmp_path_factory.mktemp("emotion") / "small.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["text", "emotion"])
        writer.writeheader()
        for label in emotion.EMOTIONS:
            writer.writerows([r for r in rows if r["emotion"] == label][:6])
    return path


def config(emotion_csv: Path, **extra: object) -> dict:
    return {"epochs": 3, "patience": 3, "emotion_data": [str(emotion_csv)], **extra}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, emotion_csv: Path):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("tandem_nlu")
    component = TandemTransformerNLU.create(config(emotion_csv), storage, resource, CONTEXT)
    component.train(small_slice())
    return component, storage, resource


def parse(component: TandemTransformerNLU, *texts: str) -> list[Message]:
    return component.process(tokenized([Message({"text": t}) for t in texts]))


def test_a_trained_model_sets_intent_ranking_entities_and_emotion(trained) -> None:
    component, _, _ = trained
    text = "where is my order 10234"
    message = parse(component, text)[0]
    assert message.get("intent")["name"] in INTENTS
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == message.get("intent")["name"]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-3)
    for entity in message.get("entities"):
        assert text[entity["start"]:entity["end"]] == entity["value"]
        assert entity["extractor"] == "TandemTransformerNLU"
    feeling = message.get("emotion")
    assert feeling["label"] in emotion.EMOTIONS and -1.0 <= feeling["sentiment"] <= 1.0
    assert [r["name"] for r in feeling["ranking"]][0] == feeling["label"]
    assert "emotion" in message.as_dict(only_output_properties=True)


@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-4), ("bf16", 5e-3), ("int8", 1e-4)])
def test_batched_and_single_predictions_agree(trained, emotion_csv: Path, precision: str,
                                              tolerance: float) -> None:
    """A message's prediction does not depend on the messages processed with it (bf16: up to rounding)."""
    _, storage, resource = trained
    component = TandemTransformerNLU.load(config(emotion_csv, precision=precision), storage, resource,
                                          CONTEXT)
    texts = ["hi", "I want to cancel order 10003 because it is far too late", "thanks a lot!"]
    together = parse(component, *texts)
    alone = [parse(component, t)[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert a.get("intent")["name"] == b.get("intent")["name"]
        assert a.get("intent")["confidence"] == pytest.approx(b.get("intent")["confidence"], abs=tolerance)
        assert a.get("emotion")["label"] == b.get("emotion")["label"]


@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-4), ("bf16", 5e-2), ("int8", 1e-4)])
def test_the_traced_cpu_model_matches_the_eager_one_for_any_batch_and_length(precision: str,
                                                                            tolerance: float) -> None:
    """The trace is taken on one 8-token message; other batch sizes, lengths and padding must not differ."""
    checkpoint = encoder_path(None)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    torch.manual_seed(3)
    model = MultiTaskModel(AutoModel.from_pretrained(checkpoint), Heads(5, 7, 7)).eval()
    eager = in_cpu_precision(copy.deepcopy(model), precision)  # both conversions change the model in place
    traced = for_inference(model, torch.device("cpu"), precision)
    assert isinstance(traced, TracedModel)
    texts = ["hi", "where is my order 10234", "I want to cancel order 10003 because it is far too late " * 4]
    with torch.inference_mode():
        for batch in ([texts[0]], [texts[2]], texts):
            encoded = tokenizer(batch, padding=True, return_tensors="pt")
            expected = eager(encoded["input_ids"], encoded["attention_mask"])
            got = traced(encoded["input_ids"], encoded["attention_mask"])
            for a, b in zip(got, expected, strict=True):
                assert a.shape == b.shape
                assert torch.allclose(a.float(), b.float(), atol=tolerance)


def test_int8_keeps_each_output_channel_of_a_linear_layer_at_its_own_scale() -> None:
    """A fine-tuned matrix has rows of very different sizes; one scale for the whole matrix rounds the
    small rows to nothing, one scale per row keeps them."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 8)
    with torch.no_grad():
        layer.weight[4:] *= 1e-3
    inputs = torch.randn(16, 64)
    with torch.inference_mode():
        expected = layer(inputs)
        got = in_cpu_precision(torch.nn.Sequential(copy.deepcopy(layer)), "int8")(inputs)
    relative = (got - expected).abs().amax(0) / expected.abs().amax(0)
    assert relative.max() < 0.05


def test_persisted_model_loads_and_predicts_the_same(trained, emotion_csv: Path) -> None:
    component, storage, resource = trained
    loaded = TandemTransformerNLU.load(config(emotion_csv), storage, resource, CONTEXT)
    texts = ["where is my order 10234", "I'd like my money back for the kettle", "hello there"]
    for a, b in zip(parse(component, *texts), parse(loaded, *texts), strict=True):
        assert a.get("intent") == pytest.approx(b.get("intent"))
        assert [(e["entity"], e["value"]) for e in a.get("entities")] == \
               [(e["entity"], e["value"]) for e in b.get("entities")]


def test_other_extractors_entities_are_kept_and_not_duplicated(trained) -> None:
    component, _, _ = trained
    message = tokenized([Message({"text": "track order 10234"})])[0]
    regex = {"entity": "order_id", "start": 12, "end": 17, "value": "10234",
             "extractor": "RegexEntityExtractor"}
    message.set("entities", [regex])
    component.process([message])
    assert message.get("entities")[0] == regex
    assert [(e["start"], e["end"]) for e in message.get("entities")].count((12, 17)) == 1


def test_unknown_model_path_is_refused_before_training(tmp_path: Path, emotion_csv: Path) -> None:
    with pytest.raises(ValueError, match="not a local Hugging Face checkpoint"):
        TandemTransformerNLU.create(config(emotion_csv, model=str(tmp_path / "nope")),
                                    LocalModelStorage(tmp_path), Resource("x"), CONTEXT)


def test_unknown_train_precision_is_refused_before_training(tmp_path: Path, emotion_csv: Path) -> None:
    with pytest.raises(ValueError, match="train_precision must be one of"):
        TandemTransformerNLU.create(config(emotion_csv, train_precision="fp16"),
                                    LocalModelStorage(tmp_path), Resource("x"), CONTEXT)


def test_an_intent_with_one_example_is_refused(tmp_path: Path, emotion_csv: Path) -> None:
    data = small_slice(per_intent=3)
    lonely = tokenized([Message({"text": "what is the meaning of life", "intent": "out_of_scope"})])
    component = TandemTransformerNLU.create(config(emotion_csv), LocalModelStorage(tmp_path), Resource("x"),
                                            CONTEXT)
    with pytest.raises(ValueError, match="only one for: out_of_scope"):
        component.train(data.merge(TrainingData(training_examples=lonely)))


def test_a_single_intent_is_refused(tmp_path: Path, emotion_csv: Path) -> None:
    only = [m for m in small_slice().intent_examples if m.get("intent") == "greet"]
    component = TandemTransformerNLU.create(config(emotion_csv), LocalModelStorage(tmp_path), Resource("x"),
                                            CONTEXT)
    with pytest.raises(ValueError, match="at least two intents"):
        component.train(TrainingData(training_examples=only))


@pytest.mark.parametrize(("bf16_cpu", "expected"), [(True, "bf16"), (False, "int8")])
def test_auto_precision_takes_bf16_only_where_the_cpu_computes_it(monkeypatch, bf16_cpu, expected) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16_cpu)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: bf16_cpu)
    assert cpu_precision("auto") == expected
    assert cpu_precision("fp32") == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        cpu_precision("fp8")


def test_device_choice(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.nlu.encoder"):
        assert pick_device("cpu").type == "cpu"
    assert "runs on" in caplog.text
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="auto"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_emotion_data_changes_the_fingerprint(tmp_path: Path) -> None:
    data = tmp_path / "e.csv"
    data.write_text("text,emotion\nthanks!,joy\n")
    first = TandemTransformerNLU.fingerprint_addon({"emotion_data": [str(data)]})
    data.write_text("text,emotion\nthanks!,surprise\n")
    assert TandemTransformerNLU.fingerprint_addon({"emotion_data": [str(data)]}) != first


def test_emotion_examples_refuse_unknown_labels_and_missing_files(tmp_path: Path) -> None:
    data = tmp_path / "e.csv"
    data.write_text("text,emotion\nugh,grumpy\n")
    with pytest.raises(ValueError, match="unknown emotion labels"):
        emotion.read_examples(data)
    with pytest.raises(ValueError, match="not found"):
        emotion.read_examples(tmp_path / "missing.csv")


def test_sentiment_follows_the_emotion_distribution() -> None:
    joyful = emotion.describe([0, 0, 0, 1, 0, 0, 0])
    assert joyful["label"] == "joy" and joyful["sentiment"] == 1.0
    assert emotion.describe([1, 0, 0, 0, 0, 0, 0])["sentiment"] == -1.0
    assert emotion.describe([0, 0, 0, 0.5, 0.5, 0, 0])["sentiment"] == 0.5


def test_a_change_to_the_components_code_changes_the_fingerprint(tmp_path: Path, monkeypatch) -> None:
    """Rasa's cache would otherwise restore a component trained by the old code."""
    import bot.nlu.component as module

    package = tmp_path / "nlu"
    package.mkdir()
    (package / "component.py").write_text("# training, version 1\n")
    monkeypatch.setattr(module, "__file__", str(package / "component.py"))
    first = TandemTransformerNLU.fingerprint_addon({})
    (package / "train.py").write_text("# a fix to training\n")
    assert TandemTransformerNLU.fingerprint_addon({}) != first
