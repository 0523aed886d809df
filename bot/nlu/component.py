"""Rasa GraphComponent: intent, entities and emotion of a message from one pass of a fine-tuned encoder."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_TYPE, TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from transformers import AutoModel, AutoTokenizer

from bot.nlu import emotion
from bot.nlu.data import Example, encode_examples, holdout
from bot.nlu.encoder import cpu_precision, cpu_train_bf16, encoder_path, for_inference, pick_device
from bot.nlu.model import Heads, MultiTaskModel
from bot.nlu.tagging import Span, bio_labels, decode, entity_tag, snap, tag_fields
from bot.nlu.train import TrainSettings, autocast, train

logger = logging.getLogger(__name__)

EMOTION_KEY = "emotion"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class TandemTransformerNLU(GraphComponent, IntentClassifier, EntityExtractorMixin):
    """Fine-tunes a pretrained encoder with intent, entity (BIO) and emotion heads."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["torch", "transformers"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "model": None,  # a local Hugging Face checkpoint folder; None: the packaged all-MiniLM-L6-v2
            "emotion_data": ["data/emotion/customer_service.csv"],
            "epochs": 8,
            "batch_size": 32,
            "learning_rate": 1e-4,
            "head_learning_rate": 1e-3,
            "patience": 2,
            "validation_fraction": 0.05,
            "label_smoothing": 0.1,  # of the intent loss: softer targets, better calibrated and more accurate
            "max_length": 128,
            "random_seed": 7,
            "device": "auto",  # auto | cpu | cuda
            "cpu_threads": None,  # torch threads on the CPU; None: torch's default
            "precision": "auto",  # on the CPU: auto (bf16 where the CPU has it, else int8), fp32, bf16, int8
            "train_precision": "auto",  # on the CPU: auto (bf16 autocast where it has bf16), fp32, bf16
            "freeze_word_embeddings": True,  # half the weights, a sixth of the step time
            "inference_batch_size": 64,
            "ranking_length": 10,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: MultiTaskModel | None = None, tokenizer: Any = None,
                 labels: dict[str, list[str]] | None = None, temperature: float = 1.0) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage, self._resource = model_storage, resource
        self.model, self.tokenizer, self.temperature = model, tokenizer, temperature
        self.labels = labels or {"intents": [], "tags": [], "emotions": list(emotion.EMOTIONS)}
        self.device = pick_device(self.config["device"])
        if self.config["cpu_threads"]:
            torch.set_num_threads(int(self.config["cpu_threads"]))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> TandemTransformerNLU:
        encoder_path(config.get("model"))  # a wrong path fails here, before any training starts
        cpu_train_bf16(config.get("train_precision", "auto"))  # so does an unknown precision
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the emotion data, the checkpoint or this package's code changes.

        Rasa's cache sees none of those: without them a fix to training would be restored from the cache.
        """
        digest = hashlib.sha256(str(config.get("model")).encode())
        for path in config.get("emotion_data") or []:
            digest.update(Path(path).read_bytes() if Path(path).is_file() else path.encode())
        for source in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(source.read_bytes())
        return digest.hexdigest()

    def train(self, training_data: TrainingData) -> Resource:
        examples = self.filter_trainable_entities(training_data.intent_examples)
        intents = _check_intents(examples)
        tags = sorted({entity_tag(e) for m in examples for e in m.get(ENTITIES, [])})
        self.labels = {"intents": intents, "tags": bio_labels(tags), "emotions": list(emotion.EMOTIONS)}
        intent_ids = {name: i for i, name in enumerate(intents)}
        nlu = [Example(m.get(TEXT), intent=intent_ids[m.get(INTENT)],
                       spans=tuple(Span(e["start"], e["end"], entity_tag(e)) for e in m.get(ENTITIES, [])))
               for m in examples]
        feelings = [Example(text, emotion=emotion.EMOTIONS.index(label))
                    for path in self.config["emotion_data"] or []
                    for text, label in emotion.read_examples(Path(path))]
        fraction, seed = self.config["validation_fraction"], self.config["random_seed"]
        nlu_train, nlu_val = holdout(nlu, lambda e: e.intent, fraction, seed)
        feel_train, feel_val = holdout(feelings, lambda e: e.emotion, fraction, seed)

        checkpoint = encoder_path(self.config["model"])
        torch.manual_seed(seed)
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        model = MultiTaskModel(AutoModel.from_pretrained(checkpoint),
                               Heads(len(intents), len(self.labels["tags"]), len(emotion.EMOTIONS)))
        tag_ids = {label: i for i, label in enumerate(self.labels["tags"])}
        settings = TrainSettings(epochs=self.config["epochs"], batch_size=self.config["batch_size"],
                                 learning_rate=self.config["learning_rate"],
                                 head_learning_rate=self.config["head_learning_rate"],
                                 patience=self.config["patience"], seed=seed,
                                 label_smoothing=self.config["label_smoothing"],
                                 cpu_bf16=cpu_train_bf16(self.config["train_precision"]),
                                 freeze_word_embeddings=self.config["freeze_word_embeddings"])
        train_items, val_items = (encode_examples(self.tokenizer, items, tag_ids, self.config["max_length"])
                                  for items in (nlu_train + feel_train, nlu_val + feel_val))
        report = train(model, train_items, val_items, settings, self.tokenizer.pad_token_id, self.device)
        logger.info("Tandem NLU trained: %s", report)
        self.temperature = report.temperature
        self._save(model.cpu())
        self.model = for_inference(model, self.device, self.config["precision"])
        return self._resource

    @property
    def _int8(self) -> bool:
        """int8 scales activations per tensor, so batch-mates would shift each other's confidences."""
        return self.device.type == "cpu" and cpu_precision(self.config["precision"]) == "int8"

    def process(self, messages: list[Message]) -> list[Message]:
        """Set intent, ranking, entities and emotion on each message; batched by length (singly in int8)."""
        if self.model is None:
            return messages
        order = sorted(range(len(messages)), key=lambda i: len(messages[i].get(TEXT) or ""))
        size = 1 if self._int8 else self.config["inference_batch_size"]
        for start in range(0, len(order), size):
            batch = [messages[i] for i in order[start:start + size] if messages[i].get(TEXT)]
            if batch:
                self._predict(batch)
        return messages

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> TandemTransformerNLU:
        with model_storage.read_from(resource) as directory:
            meta = json.loads((directory / "meta.json").read_text())
            tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
            labels = meta["labels"]
            heads = Heads(len(labels["intents"]), len(labels["tags"]), len(labels["emotions"]))
            model = MultiTaskModel(AutoModel.from_pretrained(directory / "encoder"), heads)
            model.load_state_dict(torch.load(directory / "heads.pt", map_location="cpu", weights_only=True),
                                  strict=False)
        component = cls(config, model_storage, resource, tokenizer=tokenizer, labels=labels,
                        temperature=meta["temperature"])
        component.model = for_inference(model, component.device, component.config["precision"])
        return component

    def _save(self, model: MultiTaskModel) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            model.encoder.save_pretrained(directory / "encoder")
            self.tokenizer.save_pretrained(directory / "tokenizer")
            heads = {k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")}
            torch.save(heads, directory / "heads.pt")
            (directory / "meta.json").write_text(json.dumps(
                {"labels": self.labels, "temperature": self.temperature}, indent=2))

    @torch.inference_mode()
    def _predict(self, batch: list[Message]) -> None:
        texts = [m.get(TEXT) for m in batch]
        encoded = self.tokenizer(texts, truncation=True, max_length=self.config["max_length"], padding=True,
                                 return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping").tolist()
        with autocast(self.device):
            outputs = self.model(encoded["input_ids"].to(self.device),
                                 encoded["attention_mask"].to(self.device))
        intent_p = torch.softmax(outputs.intent_logits.float() / self.temperature, -1).cpu()
        emotion_p = torch.softmax(outputs.emotion_logits.float(), -1).cpu()
        tag_p, tag_ids = torch.softmax(outputs.tag_logits.float(), -1).max(-1)
        for row, message in enumerate(batch):
            self._set_intent(message, intent_p[row])
            self._set_entities(message, offsets[row], tag_ids[row].tolist(), tag_p[row].tolist())
            message.set(EMOTION_KEY, emotion.describe(emotion_p[row].tolist()), add_to_output=True)

    def _set_intent(self, message: Message, probabilities: torch.Tensor) -> None:
        pairs = zip(self.labels["intents"], probabilities.tolist(), strict=True)
        ranked = sorted(pairs, key=lambda pair: -pair[1])
        ranking = [{"name": name, "confidence": p} for name, p in ranked[: self.config["ranking_length"]]]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def _set_entities(self, message: Message, offsets: list[list[int]], tag_ids: list[int],
                      confidences: list[float]) -> None:
        text = message.get(TEXT)
        words = [(t.start, t.end) for t in message.get(TOKENS_NAMES[TEXT], [])]
        labels = [self.labels["tags"][i] for i in tag_ids]
        found = []
        for span in decode([tuple(o) for o in offsets], labels, confidences):
            span = snap(span, text, words)
            found.append({**tag_fields(span.tag), "start": span.start, "end": span.end,
                          "value": text[span.start:span.end],
                          ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: span.confidence})
        existing = message.get(ENTITIES, [])
        new = [e for e in found if not any(_overlap(e, other) for other in existing)]
        message.set(ENTITIES, existing + self.add_extractor_name(new), add_to_output=True)


def _overlap(entity: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two entities share characters: a span another extractor found is left to it."""
    return entity["start"] < other.get("end", -1) and other.get("start", -1) < entity["end"]


def _check_intents(examples: list[Message]) -> list[str]:
    """The sorted intent names; refuses data that cannot train or validate a classifier."""
    counts = Counter(m.get(INTENT) for m in examples if m.get(INTENT))
    if len(counts) < 2:
        raise ValueError(f"TandemTransformerNLU needs examples of at least two intents, got {len(counts)}")
    single = sorted(name for name, n in counts.items() if n < 2)
    if single:
        raise ValueError(f"TandemTransformerNLU needs at least two examples per intent; only one for: "
                         f"{', '.join(single)}")
    return sorted(counts)
