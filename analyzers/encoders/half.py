"""Loading a ``transformers`` checkpoint for the CPU with every weight that float16 holds
exactly kept in float16, the rest as stored, and all arithmetic in float32: the same values,
the same results, less memory.

Why: OpenAI's CLIP weights were released in float16 for their linear and convolution layers
(``clip.model.convert_weights``; ``clip.load`` upcasts them with ``model.float()`` on the
CPU, which is how the ``openai/clip-*`` checkpoints on the hub were converted), then stored
as float32. A float32 copy of a ViT-B/32 is 600 MB resident in every process that has run
it (safetensors are memory-mapped, and the first batch touches every page), half of it
padding zeros. Here a weight is stored as float16 only when converting it back gives the
identical float32 values (checked tensor by tensor); such weights are converted to float32
as their layer runs (a parametrization) and embedding rows after the lookup. A checkpoint
with no such weight (trained and saved in float32) loads as usual.

The file is read tensor by tensor with plain reads (no memory map), so loading never holds
the float32 file and the compact copy together. Only safetensors checkpoints qualify.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
           "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
           "BOOL": "bool"}  # fmt: skip


def safetensors_files(name: str) -> list[Path] | None:
    """The safetensors files of a local directory or a hub name in the local cache (one, or
    the shards of an index); None when the checkpoint has none."""
    local = Path(name).expanduser()

    def find(filename: str) -> Path | None:
        if local.is_dir():
            return local / filename if (local / filename).exists() else None
        try:
            from transformers.utils import cached_file

            found = cached_file(
                name, filename, local_files_only=True, _raise_exceptions_for_missing_entries=False
            )
        except OSError:
            return None
        return Path(found) if found else None

    single = find("model.safetensors")
    if single is not None:
        return [single]
    index = find("model.safetensors.index.json")
    if index is None:
        return None
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    paths = [find(s) for s in shards]
    return None if any(p is None for p in paths) else [p for p in paths if p is not None]


def read_compact(files: list[Path]) -> dict[str, Any]:
    """Every tensor of ``files``, read one at a time; a floating point matrix (or higher)
    whose values float16 holds exactly comes back as float16, everything else as stored."""
    import torch

    out: dict[str, Any] = {}
    for path in files:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
            base = 8 + size
            for key, meta in header.items():
                if key == "__metadata__":
                    continue
                dtype = getattr(torch, _DTYPES[meta["dtype"]])
                start, end = meta["data_offsets"]
                fh.seek(base + start)
                raw = bytearray(fh.read(end - start))
                if not raw:
                    out[key] = torch.empty(meta["shape"], dtype=dtype)
                    continue
                tensor = torch.frombuffer(raw, dtype=dtype).reshape(meta["shape"])
                if tensor.is_floating_point() and tensor.ndim >= 2 and dtype != torch.float16:
                    small = tensor.to(torch.float16)
                    if torch.equal(small.to(dtype), tensor):
                        out[key] = small
                        continue
                out[key] = tensor.clone()  # its own storage: ``raw`` goes with the loop
    return out


def _upcast() -> Any:
    import torch

    class Upcast(torch.nn.Module):
        def forward(self, weight: Any) -> Any:
            return weight.float()

    return Upcast()


def load_compact(auto_class: Any, name: str, files: list[Path], **kwargs: Any) -> Any | None:
    """``auto_class`` (e.g. ``AutoModel``) for ``name``, in eval mode, with its exactly
    representable weights in float16 and float32 arithmetic; None when no weight qualifies
    or the model does not name its parameters as the checkpoint does (load it as usual)."""
    import torch
    from torch.nn.utils import parametrize
    from transformers import AutoConfig

    state = read_compact(files)
    if not any(t.dtype == torch.float16 for t in state.values()):
        return None
    config = AutoConfig.from_pretrained(name, **kwargs)
    model_class = auto_class._model_mapping[type(config)]
    # Built in float16 so the compact tensors are taken as they are, not copied; every
    # other parameter is then put back as stored.
    model = model_class.from_pretrained(None, config=config, state_dict=state, dtype=torch.float16)
    params = dict(model.named_parameters())
    if any(n not in state for n, p in params.items() if p.is_floating_point()):
        return None
    for n, p in params.items():
        if p.is_floating_point() and state[n].dtype != torch.float16:
            p.data = state[n].to(torch.float32)
    del state
    weighted = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    for module in list(model.modules()):  # listed first: parametrizations add modules
        weight = getattr(module, "weight", None)
        if weight is None or weight.dtype != torch.float16:
            continue
        if isinstance(module, weighted):
            parametrize.register_parametrization(module, "weight", _upcast(), unsafe=True)
        elif isinstance(module, torch.nn.Embedding):
            module.register_forward_hook(lambda _m, _i, out: out.float())
        else:
            weight.data = weight.data.float()
    for buf in model.buffers():
        if buf.is_floating_point():
            buf.data = buf.data.float()
    return model.eval()
