"""The training loop: AdamW with warmup, length-bucketed batches, early stopping on held-out accuracy."""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from bot.nlu.data import Encoded, collate, length_batches
from bot.nlu.model import MultiTaskModel, fit_temperature, multitask_loss
from bot.nlu.tagging import IGNORED

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-4  # encoder
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    patience: int = 2  # epochs without a better held-out score before stopping
    seed: int = 7
    label_smoothing: float = 0.0  # of the intent loss
    cpu_bf16: bool = False  # bf16 autocast on the CPU too (fp32 master weights), where the CPU has bf16
    freeze_word_embeddings: bool = False  # half of a small encoder's weights, and of the optimizer's work


@dataclass(frozen=True)
class Validation:
    """One pass over the held-out examples."""

    loss: float  # mean of the summed head losses
    accuracy: float  # the share of examples with every label they have right: intent, emotion, all tags
    intent_logits: torch.Tensor = field(repr=False)
    intent_targets: torch.Tensor = field(repr=False)

    def better_than(self, other: Validation | None) -> bool:
        """More accurate, or as accurate with a lower loss. Accuracy first: the loss keeps rising on the
        few examples the model gets wrong ever more confidently while the rest still improve."""
        return other is None or (self.accuracy, -self.loss) > (other.accuracy, -other.loss)


@dataclass
class TrainReport:
    epochs_run: int = 0
    best_epoch: int = 0
    validation_scores: list[Validation] = field(default_factory=list)
    temperature: float = 1.0


def autocast(device: torch.device, cpu_bf16: bool = False) -> torch.autocast | nullcontext:
    """bf16 autocast on CUDA, and on the CPU when `cpu_bf16`; else full precision."""
    if device.type == "cuda" or cpu_bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def train(model: MultiTaskModel, train_items: Sequence[Encoded], validation_items: Sequence[Encoded],
          settings: TrainSettings, pad_id: int, device: torch.device) -> TrainReport:
    """Fit `model` in place; it ends with the weights of its best held-out epoch."""
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    model.to(device)
    model.encoder.get_input_embeddings().weight.requires_grad_(not settings.freeze_word_embeddings)
    head_params = [p for name, p in model.named_parameters() if not name.startswith("encoder.")]
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": settings.learning_rate},
        {"params": head_params, "lr": settings.head_learning_rate},
    ], weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(train_items) // settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    schedule = get_linear_schedule_with_warmup(optimizer, int(total_steps * settings.warmup_fraction),
                                               total_steps)
    lengths = [len(item.input_ids) for item in train_items]
    report, best_state, best = TrainReport(), None, None
    for epoch in range(1, settings.epochs + 1):
        model.train()
        progress = tqdm(length_batches(lengths, settings.batch_size, rng), desc=f"epoch {epoch}",
                        leave=False, mininterval=2.0)
        for batch_ids in progress:
            batch = _to(collate([train_items[i] for i in batch_ids], pad_id), device)
            with autocast(device, settings.cpu_bf16):
                outputs = model(batch["input_ids"], batch["attention_mask"])
            loss = multitask_loss(outputs, batch["intents"], batch["tags"], batch["emotions"],
                                  settings.label_smoothing)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        score = evaluate(model, validation_items, pad_id, device, settings.batch_size)
        report.epochs_run, report.validation_scores = epoch, report.validation_scores + [score]
        logger.info("epoch %d: held-out accuracy %.4f, loss %.4f", epoch, score.accuracy, score.loss)
        if score.better_than(best):
            best, report.best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - report.best_epoch >= settings.patience:
            logger.info("early stop: no better held-out score for %d epochs", settings.patience)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    if best is not None and len(best.intent_targets):
        report.temperature = fit_temperature(best.intent_logits, best.intent_targets)
    return report


@torch.inference_mode()
def evaluate(model: MultiTaskModel, items: Sequence[Encoded], pad_id: int, device: torch.device,
             batch_size: int) -> Validation:
    """Held-out loss and accuracy, with the intent logits and targets of the examples that have an intent."""
    model.eval()
    losses, logits, targets, right = [], [], [], 0
    for batch_ids in length_batches([len(i.input_ids) for i in items], batch_size, None):
        batch = _to(collate([items[i] for i in batch_ids], pad_id), device)
        with autocast(device):
            outputs = model(batch["input_ids"], batch["attention_mask"])
        losses.append(multitask_loss(outputs, batch["intents"], batch["tags"], batch["emotions"]).item())
        wrong = torch.zeros(len(batch_ids), dtype=torch.bool, device=device)
        for head_logits, head_targets in ((outputs.intent_logits, batch["intents"]),
                                          (outputs.emotion_logits, batch["emotions"]),
                                          (outputs.tag_logits, batch["tags"])):
            missed = (head_logits.argmax(-1) != head_targets) & (head_targets != IGNORED)
            wrong |= missed if missed.dim() == 1 else missed.any(-1)
        right += int((~wrong).sum())
        keep = batch["intents"] != IGNORED
        logits.append(outputs.intent_logits[keep].float().cpu())
        targets.append(batch["intents"][keep].cpu())
    if not losses:
        return Validation(0.0, 0.0, torch.empty(0), torch.empty(0, dtype=torch.long))
    return Validation(sum(losses) / len(losses), right / len(items), torch.cat(logits), torch.cat(targets))


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in batch.items()}
