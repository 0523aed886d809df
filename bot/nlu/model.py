"""One encoder, three heads: intent (pooled), entity tags (per token), emotion (pooled)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from transformers import PreTrainedModel

from bot.nlu.tagging import IGNORED


@dataclass(frozen=True)
class Heads:
    """How many classes each head predicts."""

    intents: int
    tags: int
    emotions: int


class Outputs(NamedTuple):
    intent_logits: Tensor  # (batch, intents)
    tag_logits: Tensor  # (batch, tokens, tags)
    emotion_logits: Tensor  # (batch, emotions)


class MultiTaskModel(nn.Module):
    """A pretrained encoder with mean pooling and a linear head per task."""

    def __init__(self, encoder: PreTrainedModel, heads: Heads, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.intent_head = nn.Linear(hidden, heads.intents)
        self.tag_head = nn.Linear(hidden, heads.tags)
        self.emotion_head = nn.Linear(hidden, heads.emotions)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Outputs:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = self.dropout((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        return Outputs(self.intent_head(pooled), self.tag_head(self.dropout(hidden)),
                       self.emotion_head(pooled))


class TracedModel(nn.Module):
    """A MultiTaskModel traced and frozen by TorchScript: the same outputs for any batch and length, without
    Python's per-layer overhead, which is a third of a short message's forward pass on the CPU."""

    def __init__(self, model: MultiTaskModel) -> None:
        super().__init__()
        example = torch.ones((1, 8), dtype=torch.long)
        with torch.no_grad(), warnings.catch_warnings():
            # TorchScript is deprecated upstream, and the one constant the trace records (the 1.0 of the
            # attention mask's inversion) is the same for every input.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            self.traced = torch.jit.freeze(torch.jit.trace(model.eval(), (example, example)))

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Outputs:
        return Outputs(*self.traced(input_ids, attention_mask))


def multitask_loss(outputs: Outputs, intents: Tensor, tags: Tensor, emotions: Tensor,
                   intent_smoothing: float = 0.0) -> Tensor:
    """Sum of the three cross-entropies, each over the examples that carry that label."""
    total = outputs.intent_logits.new_zeros(())
    for logits, targets, smoothing in ((outputs.intent_logits, intents, intent_smoothing),
                                       (outputs.emotion_logits, emotions, 0.0),
                                       (outputs.tag_logits.flatten(0, 1), tags.flatten(), 0.0)):
        if (targets != IGNORED).any():
            total = total + F.cross_entropy(logits.float(), targets, ignore_index=IGNORED,
                                            label_smoothing=smoothing)
    return total


def fit_temperature(logits: Tensor, targets: Tensor, steps: int = 100) -> float:
    """The softmax temperature (≥ 1) that minimises held-out NLL: confidences that mean what they say.

    Never below 1: sharpening a label-smoothed model fits the held-out intents but makes vague and
    out-of-scope messages look certain, and the FallbackClassifier would never fire.
    """
    logits, targets = logits.detach().float().clone(), targets.clone()  # leave inference mode behind
    excess = torch.full((), -3.0, requires_grad=True)  # temperature = 1 + exp(excess)
    optimizer = torch.optim.LBFGS([excess], lr=0.1, max_iter=steps)

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / (1 + excess.exp()), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(1 + excess.detach().exp())
    return min(temperature, 20.0) if math.isfinite(temperature) else 1.0
