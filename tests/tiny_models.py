"""Tiny pretrained-model folders built on the fly (random weights, a few layers, no download),
so the real loading and embedding code runs in seconds."""

from __future__ import annotations

import re
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WIDTH = 32


def text_model(folder: Path, words) -> Path:
    """A 2-layer BERT with a word-level vocabulary of ``words``, saved by sentence-transformers
    (Transformer + mean Pooling) in ``folder``; returns ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    hf = folder.parent / f"{folder.name}-hf"
    hf.mkdir(parents=True)
    vocab = SPECIAL + sorted(set(words) - set(SPECIAL))
    (hf / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)})
    assert tokenizer.convert_tokens_to_ids(vocab[-1]) == len(vocab) - 1, "vocabulary not taken"
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=WIDTH, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    torch.manual_seed(0)
    BertModel(config).save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    model = SentenceTransformer(modules=[Transformer(str(hf)), Pooling(WIDTH)], device="cpu")
    model.save(str(folder))
    return folder


def image_model(folder: Path) -> Path:
    """A 2-layer ViT on 32x32 images with its image processor, saved by transformers'
    ``save_pretrained`` (a plain Hugging Face folder, no sentence-transformers files)."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(
        hidden_size=WIDTH, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=32, patch_size=8,
    )  # fmt: skip
    torch.manual_seed(0)
    ViTModel(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def words_of(texts) -> list[str]:
    """Lowercase words and punctuation as BERT's basic tokenizer splits them."""
    return sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", str(t).lower())})
