"""A CLIP with random weights, saved as a local checkpoint, for tests and benchmarks only.

No CLIP/SigLIP weights ship offline here, so the loading, batching and caching code is tested
and timed on a randomly initialised model of the right shape. Its scores mean nothing and it
is never used to tag a title. The real tokenizer's files are not available either: the
tokenizer is byte-level BPE whose only merges make given words single tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Sizes of a ViT-B/32 CLIP (openai/clip-vit-base-patch32) and of a tiny one for unit tests.
SHAPES: dict[str, dict[str, Any]] = {
    "vit-b-32": {
        "text": dict(
            hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12
        ),
        "vision": dict(
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            image_size=224,
            patch_size=32,
        ),
        "projection_dim": 512,
    },
    "tiny": {
        "text": dict(
            hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2
        ),
        "vision": dict(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=32,
            patch_size=8,
        ),
        "projection_dim": 16,
    },
}


def byte_level_tokenizer(words: Iterable[str] = ()):
    """A CLIP tokenizer whose vocabulary is the 256 byte symbols (plus end-of-word forms),
    with merges that make each of ``words`` one token, as CLIP's real vocabulary does for
    common words: prompts then tokenise to about as many tokens as with the real one."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = sorted(set(bytes_to_unicode().values()))
    tokens = [*symbols, *(s + "</w>" for s in symbols)]
    merges: list[tuple[str, str]] = []
    # CLIP's pre-tokenizer splits on anything but letters and digits: merge those runs.
    runs = sorted({r for w in words for r in re.findall(r"[a-z0-9]{2,}", w.lower())})
    pending = {r: [*r[:-1], r[-1] + "</w>"] for r in runs}
    # Merges learnt for one word can split another differently (BPE applies the lowest rank
    # first), so join whatever pieces each word still falls into until all are single.
    for _ in range(8):
        for pieces in pending.values():
            prefix = pieces[0]
            for piece in pieces[1:]:
                if (prefix, piece) not in merges:
                    merges.append((prefix, piece))
                if prefix + piece not in tokens:
                    tokens.append(prefix + piece)
                prefix += piece
        tok = _tokenizer(tokens, merges)
        split = {r: tok.tokenize(r) for r in pending}
        pending = {r: p for r, p in split.items() if len(p) > 1}
        if not pending:
            break
    return tok


def _tokenizer(tokens: list[str], merges: list[tuple[str, str]]):
    from transformers import CLIPTokenizer

    vocab = {tok: i for i, tok in enumerate(tokens)}
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=list(merges))


def save_random_clip(
    directory: str | Path,
    shape: str = "tiny",
    seed: int = 0,
    words: Iterable[str] = (),
    *,
    released_fp16: bool = False,
) -> Path:
    """Write a randomly initialised CLIP (model, tokenizer, PIL image processor) to
    ``directory``, loadable with ``from_pretrained(directory, local_files_only=True)``.
    ``words`` become single tokens (see :func:`byte_level_tokenizer`).

    ``released_fp16``: round the linear and convolution layers' weights and biases to
    float16 values, stored as float32, as in OpenAI's CLIP checkpoints on the hub (released
    in float16 by ``clip.model.convert_weights``, converted through ``clip.load`` on the CPU),
    which is what a stand-in for ``openai/clip-*`` should look like; embeddings and norms
    stay float32 values."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    spec = SHAPES[shape]
    tok = byte_level_tokenizer(words)
    ids = {
        "vocab_size": len(tok),
        "max_position_embeddings": 77,
        "bos_token_id": tok.convert_tokens_to_ids("<|startoftext|>"),
        "eos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
        "pad_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
    }
    config = CLIPConfig(
        text_config={**spec["text"], **ids},
        vision_config=spec["vision"],
        projection_dim=spec["projection_dim"],
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    if released_fp16:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, torch.nn.Linear | torch.nn.Conv2d):
                    for param in module.parameters(recurse=False):
                        param.copy_(param.half().float())
    side = spec["vision"]["image_size"]
    # The PIL processor: the default (torchvision) one does not load on this machine.
    images = CLIPImageProcessorPil(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    out = Path(directory)
    model.save_pretrained(out)
    CLIPProcessor(image_processor=images, tokenizer=tok).save_pretrained(out)
    return out
