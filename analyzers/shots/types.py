"""Plain result and option types of the shot analyzer (no behaviour beyond small helpers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DetectorName = Literal["auto", "fast", "transnetv2"]
TransitionKind = Literal[
    "dissolve",
    "fade_in_from_black",
    "fade_out_to_black",
    "fade_in_from_white",
    "fade_out_to_white",
    "gradual",  # TransNetV2 found a soft boundary it does not classify further
]


@dataclass
class ShotOptions:
    detector: DetectorName = "auto"
    analysis_width: int = 128  # frames are scaled to this width by ffmpeg before analysis
    # Adaptive content detector (scores on PySceneDetect's 0-255 scale).
    adaptive_threshold: float = 3.0  # score / mean score of neighbours
    min_content: float = 24.0  # absolute floor of a cut's score
    max_structure: float = 0.9  # luma-pattern correlation above which a change is not a cut
    window: int = 2  # neighbours on each side for the adaptive ratio
    min_shot_s: float = 0.4  # cuts closer than this to the previous one are dropped
    # Flash suppression.
    flash_max_s: float = 0.5  # a flash ends (picture returns) within this
    flash_min_luma_jump: float = 12.0  # mean luma rise (0-255) that marks a flash candidate
    # Gradual transitions.
    gradual: bool = True
    gradual_min_change: float = 18.0  # mean abs difference (0-255) between the two sides
    # TransNetV2.
    transnet_threshold: float = 0.5
    device: str | None = None  # None: cuda when present
    # Keyframes.
    keyframes: bool = True
    keyframe_width: int = 640
    keyframe_sample_s: float = 0.2  # candidates are captured this often during detection
    thumb_width: int = 256
    jpeg_quality: int = 85
    filmstrip_columns: int = 8
    # Scenes.
    scene_similarity: float = 0.55  # histogram intersection to link two shots
    scene_lookback_shots: int = 4
    scene_lookback_s: float = 60.0
    # Chunking: how much is decoded outside [start, end) so borders see the same context.
    chunk_overlap_s: float = 3.0
    decode_fast: bool = True


@dataclass
class StyleFeatures:
    length_s: float
    luma_mean: float  # lighting key, 0-1
    luma_spread: float  # std of luminance, 0-1
    contrast: float  # RMS contrast: mean per-frame luminance std / mean, unitless
    saturation: float  # 0-1
    colorfulness: float  # Hasler-Süsstrunk M on 0-255 RGB
    motion: float  # median abs luminance change between consecutive frames, 0-1
    dominant_colors: list[tuple[str, float]] = field(default_factory=list)  # (#rrggbb, share)


@dataclass
class Transition:
    kind: str
    start_frame: int  # first frame of the transition
    end_frame: int  # first frame after it (half-open range)
    start_s: float
    end_s: float


@dataclass
class Keyframe:
    shot_index: int
    frame: int
    time_s: float
    sharpness: float  # variance of the Laplacian on the analysis-size frame
    width: int = 0
    height: int = 0
    jpeg: bytes = b""
    thumb_jpeg: bytes = b""


@dataclass
class Shot:
    index: int
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    start_kind: str  # "start", "cut" or a transition kind
    style: StyleFeatures | None = None
    scene_index: int = 0


@dataclass
class Scene:
    index: int
    first_shot: int
    last_shot: int  # inclusive
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float


@dataclass
class ShotAnalysis:
    detector: str  # name and version, e.g. "coldstart-adaptive/1"
    fps: float
    frame_count: int
    width: int  # displayed (rotated) size of the source
    height: int
    rotation: int
    duration_s: float
    shots: list[Shot] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    scenes: list[Scene] = field(default_factory=list)
    keyframes: list[Keyframe] = field(default_factory=list)
    filmstrip_jpeg: bytes = b""
    warnings: list[str] = field(default_factory=list)

    @property
    def cuts(self) -> list[int]:
        """First frames of shots that start with a hard cut."""
        return [s.start_frame for s in self.shots if s.start_kind == "cut"]
