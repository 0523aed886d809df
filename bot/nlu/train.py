"""The training loop: AdamW with warmup, length-bucketed batches, early stopping on held-out loss."""

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
    patience: int = 2  # epochs without a better held-out loss before stopping
    seed: int = 7
    label_smoothing: float = 0.0  # of the intent loss


@dataclass
class TrainReport:
    epochs_run: int = 0
    best_epoch: int = 0
    validation_losses: list[float] = field(default_factory=list)
    temperature: float = 1.0


def autocast(device: torch.device) -> torch.autocast | nullcontext:
    """bf16 autocast on CUDA; full precision on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def train(model: MultiTaskModel, train_items: Sequence[Encoded], validation_items: Sequence[Encoded],
          settings: TrainSettings, pad_id: int, device: torch.device) -> TrainReport:
    """Fit `model` in place; it ends with the weights of its best held-out epoch."""
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    model.to(device)
    head_params = [p for name, p in model.named_parameters() if not name.startswith("encoder.")]
    optimizer = torch.optim.AdamW([
        {"params": model.encoder.parameters(), "lr": settings.learning_rate},
        {"params": head_params, "lr": settings.head_learning_rate},
    ], weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(train_items) // settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    schedule = get_linear_schedule_with_warmup(optimizer, int(total_steps * settings.warmup_fraction),
                                               total_steps)
    lengths = [len(item.input_ids) for item in train_items]
    report, best_state, best_loss = TrainReport(), None, float("inf")
    for epoch in range(1, settings.epochs + 1):
        model.train()
        progress = tqdm(length_batches(lengths, settings.batch_size, rng), desc=f"epoch {epoch}",
                        leave=False, mininterval=2.0)
        for batch_ids in progress:
            batch = _to(collate([train_items[i] for i in batch_ids], pad_id), device)
            with autocast(device):
                outputs = model(batch["input_ids"], batch["attention_mask"])
            loss = multitask_loss(outputs, batch["intents"], batch["tags"], batch["emotions"],
                                  settings.label_smoothing)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        validation_loss, _, _ = evaluate(model, validation_items, pad_id, device, settings.batch_size)
        report.epochs_run, report.validation_losses = epoch, report.validation_losses + [validation_loss]
        logger.info("epoch %d: held-out loss %.4f", epoch, validation_loss)
        if validation_loss < best_loss:
            best_loss, report.best_epoch = validation_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - report.best_epoch >= settings.patience:
            logger.info("early stop: no better held-out loss for %d epochs", settings.patience)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    _, logits, targets = evaluate(model, validation_items, pad_id, device, settings.batch_size)
    if len(targets):
        report.temperature = fit_temperature(logits, targets)
    return report


@torch.inference_mode()
def evaluate(model: MultiTaskModel, items: Sequence[Encoded], pad_id: int, device: torch.device,
             batch_size: int) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Mean held-out loss, and the intent logits and targets of the examples that have an intent."""
    model.eval()
    losses, logits, targets = [], [], []
    for batch_ids in length_batches([len(i.input_ids) for i in items], batch_size, None):
        batch = _to(collate([items[i] for i in batch_ids], pad_id), device)
        with autocast(device):
            outputs = model(batch["input_ids"], batch["attention_mask"])
        losses.append(multitask_loss(outputs, batch["intents"], batch["tags"], batch["emotions"]).item())
        keep = batch["intents"] != IGNORED
        logits.append(outputs.intent_logits[keep].float().cpu())
        targets.append(batch["intents"][keep].cpu())
    if not losses:
        return 0.0, torch.empty(0), torch.empty(0, dtype=torch.long)
    return sum(losses) / len(losses), torch.cat(logits), torch.cat(targets)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in batch.items()}
