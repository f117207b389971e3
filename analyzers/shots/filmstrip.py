"""One contact sheet per title: keyframe thumbnails in a grid, in shot order."""

from __future__ import annotations

import numpy as np

from analyzers.shots.keyframes import encode_jpeg, thumbnail

MAX_TILES = 64  # longer titles get an even sample of their shots


def filmstrip(
    images: list[np.ndarray], columns: int = 8, tile_width: int = 160, quality: int = 80
) -> bytes:
    """JPEG of ``images`` laid out ``columns`` wide (empty bytes when there are none)."""
    if not images:
        return b""
    if len(images) > MAX_TILES:
        pick = np.linspace(0, len(images) - 1, MAX_TILES).round().astype(int)
        images = [images[i] for i in pick]
    tiles = [thumbnail(im, tile_width) for im in images]
    th = max(t.shape[0] for t in tiles)
    cols = min(columns, len(tiles))
    rows = (len(tiles) + cols - 1) // cols
    gap = 2
    sheet = np.zeros((rows * (th + gap) + gap, cols * (tile_width + gap) + gap, 3), np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = gap + r * (th + gap), gap + c * (tile_width + gap)
        sheet[y : y + t.shape[0], x : x + t.shape[1]] = t
    return encode_jpeg(sheet, quality)
