"""Nudity: NudeNet's detector (ONNX, weights shipped in the ``nudenet`` package) on the
keyframes (and any sampled frames) the shots stage stored. Nothing is decoded from video.

Each input frame is a plain dict: ``time_s``, ``image`` (JPEG/PNG bytes, a file path, or an
RGB ``uint8`` array), optionally ``start_s``/``end_s`` (the span it stands for, e.g. its shot;
default the instant ``time_s``) and ``ref`` (free-form: shot index, keyframe key). A frame
that fails to decode is skipped with a warning in ``extras["warnings"]``.

Classes NudeNet reports and what they mean here (``SEVERITY``):

- exposed genitalia, anus or female breast: ``strong``;
- exposed buttocks: ``moderate``;
- covered genitalia, breast, buttocks or anus (underwear, swimwear, sheer): ``mild``;
- faces, feet, armpits, belly and male chest: not nudity; ignored.

A detection scoring at least ``Options.certain`` is a ``Mark`` (label ``nudity``, the class's
severity, box and class in ``detail``). One in the band [``Options.possible``,
``Options.certain``) is "possible": it is listed in ``extras["possible"]`` and puts ``nudity``
in ``uncertain``, which blocks children's ratings (art-like and partial nudity score low).
Each frame gets a window with ``nudity`` (the highest nudity-class score, 0 when none),
``exposed`` and ``covered``.

ONNX providers: CUDA when onnxruntime offers it, else CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from analyzers.memory import release_freed
from analyzers.signals.base import Mark, SignalResult, Window

SIGNAL = "nudity"
LABEL = "nudity"
_VERSION = "1"

SEVERITY: dict[str, str] = {
    "FEMALE_GENITALIA_EXPOSED": "strong",
    "MALE_GENITALIA_EXPOSED": "strong",
    "ANUS_EXPOSED": "strong",
    "FEMALE_BREAST_EXPOSED": "strong",
    "BUTTOCKS_EXPOSED": "moderate",
    "FEMALE_GENITALIA_COVERED": "mild",
    "FEMALE_BREAST_COVERED": "mild",
    "BUTTOCKS_COVERED": "mild",
    "ANUS_COVERED": "mild",
}


@dataclass(frozen=True)
class Options:
    possible: float = 0.25  # below: ignored
    certain: float = 0.6  # at or above: a finding; in between: possible (uncertain)
    batch_size: int = 8
    model_path: str | None = None  # default: the 320n model inside the nudenet package

    def version(self) -> str:
        data = json.dumps([_VERSION, _nudenet_version(), asdict(self), SEVERITY], sort_keys=True)
        return f"{_VERSION}-{hashlib.sha256(data.encode()).hexdigest()[:12]}"


def _nudenet_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nudenet")
    except PackageNotFoundError:
        return "missing"


class NudityBackend(Protocol):
    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[dict[str, Any]]]:
        """Per BGR image: ``{"class", "score", "box": [x, y, w, h]}`` detections."""
        ...


class NudeNetBackend:
    """NudeNet's 320n ONNX detector with a session on the best available provider. Its own
    ``NudeDetector`` ignores providers, so the session is built here and its pre- and
    post-processing (pinned nudenet 3.4) are reused."""

    name = "nudenet-320n"

    def __init__(self, model_path: str | None = None, threads: int = 1) -> None:
        import onnxruntime as ort
        from nudenet import nudenet as nn

        path = model_path or os.path.join(os.path.dirname(nn.__file__), "320n.onnx")
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        # One CPU thread by default: a worker process shares its cores with as many others,
        # and on a busy 2-core machine two spinning threads took twice the CPU and longer.
        session_options = ort.SessionOptions()
        if threads:
            session_options.intra_op_num_threads = threads
        # No CPU arena: its buffers (about 100 MB after a batch of 8) would stay with the
        # process between titles; freed, they go back to the OS (``release_freed``).
        session_options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(path, session_options, providers=providers)
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name
        self.size = 320
        self._nn = nn

    def detect(self, images: Sequence[np.ndarray]) -> list[list[dict[str, Any]]]:
        prepared = [self._nn._read_image(image, self.size) for image in images]
        outputs = self.session.run(None, {self.input_name: np.vstack([p[0] for p in prepared])})
        out = []
        for j, (_, x_ratio, y_ratio, x_pad, y_pad, width, height) in enumerate(prepared):
            out.append(
                self._nn._postprocess(
                    [outputs[0][j : j + 1]],
                    x_pad,
                    y_pad,
                    x_ratio,
                    y_ratio,
                    width,
                    height,
                    self.size,
                    self.size,
                )
            )
        del outputs, prepared
        release_freed()
        return out


_LOADED: dict[str | None, NudityBackend] = {}
_LOCK = threading.Lock()


def load_backend(options: Options) -> tuple[NudityBackend | None, str]:
    """The detector for ``options.model_path``, loaded once per process."""
    with _LOCK:
        if options.model_path in _LOADED:
            return _LOADED[options.model_path], ""
        try:
            backend = _LOADED[options.model_path] = NudeNetBackend(options.model_path)
        except ImportError as exc:
            return None, f"NudeNet is not installed ({exc})"
        except Exception as exc:  # a broken model file is an absent signal, not a crash
            return None, f"NudeNet model could not be loaded ({exc})"
        return backend, ""


def _decode(image: Any) -> np.ndarray | None:
    """BGR uint8 image from bytes, a path or an RGB array; None when it does not decode."""
    import cv2

    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            return None
        return cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_RGB2BGR)
    if isinstance(image, (bytes, bytearray, memoryview)):
        mat = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    else:
        mat = cv2.imread(os.fspath(image), cv2.IMREAD_COLOR)
    return mat if mat is not None and mat.size else None


def analyze(
    frames: Sequence[Mapping[str, Any]] | None,
    options: Options | None = None,
    *,
    backend: NudityBackend | None = None,
) -> SignalResult:
    """Detections on every frame: marks, possible detections and one window per frame."""
    options = options or Options()
    version = options.version()
    if not frames:
        return SignalResult.absent_because(SIGNAL, version, "no video (no keyframes)")
    if backend is None:
        backend, why = load_backend(options)
        if backend is None:
            return SignalResult.absent_because(SIGNAL, version, why)
    warnings: list[str] = []
    decoded: list[tuple[Mapping[str, Any], np.ndarray]] = []
    for frame in frames:
        mat = _decode(frame["image"])
        if mat is None:
            where = frame.get("ref") or frame["time_s"]
            warnings.append(f"frame at {float(frame['time_s']):.2f} s ({where}) did not decode")
        else:
            decoded.append((frame, mat))
    if not decoded:
        result = SignalResult.absent_because(SIGNAL, version, "no keyframe could be decoded")
        result.extras["warnings"] = warnings
        return result
    result = SignalResult(signal=SIGNAL, version=version)
    possible: list[dict[str, Any]] = []
    step = max(1, options.batch_size)
    for i in range(0, len(decoded), step):
        batch = decoded[i : i + step]
        for (frame, _), found in zip(batch, backend.detect([m for _, m in batch]), strict=True):
            possible += _frame(result, frame, found, options)
    if possible:
        result.uncertain = [LABEL]
        result.extras["possible"] = possible
    result.extras.update(backend=backend.name, warnings=warnings)
    return result


def _frame(
    result: SignalResult,
    frame: Mapping[str, Any],
    found: list[dict[str, Any]],
    options: Options,
) -> list[dict[str, Any]]:
    """Add the frame's window and marks to ``result``; return its possible detections."""
    t = float(frame["time_s"])
    start, end = float(frame.get("start_s", t)), float(frame.get("end_s", t))
    ref = dict(frame.get("ref") or {})
    scores = {"nudity": 0.0, "exposed": 0.0, "covered": 0.0}
    possible = []
    for det in found:
        severity = SEVERITY.get(det["class"])
        score = float(det["score"])
        if severity is None or score < options.possible:
            continue
        kind = "exposed" if det["class"].endswith("_EXPOSED") else "covered"
        scores["nudity"] = max(scores["nudity"], score)
        scores[kind] = max(scores[kind], score)
        detail = {"class": det["class"], "box": list(det["box"]), "time_s": t, **ref}
        if score >= options.certain:
            result.marks.append(Mark(start, end, LABEL, score, severity, detail))
        else:
            possible.append({**detail, "score": score, "severity": severity})
    result.windows.append(Window(start, end, scores, ref={"time_s": t, **ref}))
    return possible
