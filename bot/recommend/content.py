"""Product texts as vectors from the NLU's sentence encoder: mean-pooled tokens, L2-normalised."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

BATCH_SIZE = 64
MAX_TOKENS = 128


def text_key(text: str) -> str:
    """A short digest of a text, to reuse its vector while the text stays the same."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@lru_cache(maxsize=2)
def _encoder(checkpoint: str | None) -> tuple[Any, Any]:
    """Tokenizer and model of a local checkpoint (None: the packaged encoder); never downloads."""
    from transformers import AutoModel, AutoTokenizer

    from bot.nlu.encoder import encoder_path

    path = encoder_path(checkpoint)
    logger.info("Loading the product text encoder from %s", path)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return tokenizer, AutoModel.from_pretrained(path, local_files_only=True).eval()


def embed(texts: Sequence[str], checkpoint: str | None = None) -> np.ndarray:
    """One unit-length float32 row per text (shape (len(texts), hidden))."""
    import torch

    tokenizer, model = _encoder(checkpoint)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), BATCH_SIZE):
            batch = tokenizer(list(texts[start:start + BATCH_SIZE]), padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            rows.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, model.config.hidden_size),
                                                                          np.float32)
