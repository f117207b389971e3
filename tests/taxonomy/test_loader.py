"""The taxonomy loader: every rejection names the file, the path inside it and the error;
the fingerprint follows values, not layout; an editor's own file loads without code."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import taxonomy
from taxonomy import TaxonomyError
from taxonomy.loader import default_path


@pytest.fixture(scope="module")
def packaged() -> dict[str, Any]:
    return yaml.safe_load(default_path().read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict[str, Any], name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def rejected(tmp_path: Path, packaged: dict[str, Any], edit: Callable[[dict], None]):
    data = copy.deepcopy(packaged)
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(TaxonomyError) as info:
        taxonomy.load(path)
    assert str(path) in str(info.value)  # names the file
    return info.value


def test_packaged_taxonomy_loads_by_default() -> None:
    tax = taxonomy.load()
    assert tax.source == str(default_path())
    assert tax.version == "1"
    assert len(tax.fingerprint) == 64 and int(tax.fingerprint, 16) >= 0
    assert taxonomy.load(None) is tax  # cached


def unknown_top(d: dict) -> None:
    d["moods"] = []


def unknown_nested(d: dict) -> None:
    d["mood"][2]["colour"] = "red"


def unknown_cue_key(d: dict) -> None:
    d["tone"][0]["audio_cues"][0]["gain"] = 2


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (unknown_top, "moods"),
        (unknown_nested, "mood[2].colour"),
        (unknown_cue_key, "tone[0].audio_cues[0].gain"),
    ],
)
def test_rejects_unknown_keys(tmp_path, packaged, edit, path) -> None:
    error = rejected(tmp_path, packaged, edit)
    assert error.path == path
    assert error.error == "unknown key"
    assert f": {path}: unknown key" in str(error)


def test_rejects_duplicate_labels(tmp_path, packaged) -> None:
    def edit(d: dict) -> None:
        d["mood"][3]["id"] = d["mood"][0]["id"]

    error = rejected(tmp_path, packaged, edit)
    assert error.path == "mood[3].id"
    assert "duplicate 'tense'" in error.error


def test_rejects_duplicate_yaml_keys(tmp_path) -> None:
    text = default_path().read_text(encoding="utf-8")
    path = tmp_path / "dup.yaml"
    path.write_text(text.replace('version: "1"', 'version: "1"\nversion: "2"', 1))
    with pytest.raises(TaxonomyError, match=r"duplicate key 'version' \(line \d+\)") as info:
        taxonomy.load(path)
    assert str(path) in str(info.value)


def test_rejects_label_without_description(tmp_path, packaged) -> None:
    error = rejected(tmp_path, packaged, lambda d: d["tone"][4].pop("description"))
    assert (error.path, error.error) == ("tone[4].description", "Field required")

    def blank(d: dict) -> None:
        d["descriptors"][1]["description"] = "   "

    error = rejected(tmp_path, packaged, blank)
    assert error.path == "descriptors[1].description"
    assert "at least 1 character" in error.error


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("descriptor", "arson", "unknown descriptor 'arson'"),
        ("severity", "extreme", "unknown level 'extreme'"),
        ("rating", "X", "unknown rating 'X' in mpaa"),
    ],
)
def test_rejects_rating_rules_naming_unknowns(tmp_path, packaged, field, value, message) -> None:
    def edit(d: dict) -> None:
        d["rating_systems"][0]["rules"][5][field] = value

    error = rejected(tmp_path, packaged, edit)
    assert error.path == f"rating_systems[0].rules[5].{field}"
    assert message in error.error


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["mood"][3].__setitem__("threshold", 1.5), "mood[3].threshold"),
        (lambda d: d["descriptors"][0].__setitem__("threshold", -0.1), "descriptors[0].threshold"),
        (
            lambda d: d["mood"][0]["audio_cues"][1].__setitem__("weight", 2),
            "mood[0].audio_cues[1].weight",
        ),
        (
            lambda d: d["calibration"]["tone"]["weights"].__setitem__("text", 1.2),
            "calibration.tone.weights.text",
        ),
        (
            lambda d: d["calibration"].__setitem__("review_below", 3),
            "calibration.review_below",
        ),
    ],
)
def test_rejects_values_outside_unit_interval(tmp_path, packaged, edit, path) -> None:
    error = rejected(tmp_path, packaged, edit)
    assert error.path == path
    assert "less than or equal to 1" in error.error or "greater than or equal to 0" in error.error


def test_rejects_unknown_cue_features(tmp_path, packaged) -> None:
    def audio(d: dict) -> None:
        d["mood"][1]["audio_cues"][0]["feature"] = "motion"  # a style feature, not audio

    error = rejected(tmp_path, packaged, audio)
    assert error.path == "mood[1].audio_cues[0].feature"
    assert "unknown audio cue feature 'motion'" in error.error

    def style(d: dict) -> None:
        d["tone"][2]["style_cues"][1]["feature"] = "sharpness"

    error = rejected(tmp_path, packaged, style)
    assert error.path == "tone[2].style_cues[1].feature"
    assert "unknown style cue feature 'sharpness'" in error.error


def test_rejects_unknown_signal_and_sign(tmp_path, packaged) -> None:
    def signal(d: dict) -> None:
        d["calibration"]["mood"]["weights"]["smell"] = 0.1

    error = rejected(tmp_path, packaged, signal)
    assert error.path == "calibration.mood.weights.smell"
    assert "'vision', 'text', 'audio'" in error.error

    def sign(d: dict) -> None:
        d["mood"][0]["style_cues"][0]["sign"] = 2

    error = rejected(tmp_path, packaged, sign)
    assert error.path == "mood[0].style_cues[0].sign"


def test_rejects_inconsistent_rating_systems(tmp_path, packaged) -> None:
    def falling_age(d: dict) -> None:
        d["rating_systems"][2]["ratings"][3]["min_age"] = 10

    error = rejected(tmp_path, packaged, falling_age)
    assert error.path == "rating_systems[2].ratings[3].min_age"
    assert "ages must not fall" in error.error

    def late_children(d: dict) -> None:
        d["rating_systems"][0]["ratings"][2]["children"] = True

    error = rejected(tmp_path, packaged, late_children)
    assert error.path == "rating_systems[0].ratings[2].children"

    def duplicate_rating(d: dict) -> None:
        d["rating_systems"][1]["ratings"][1]["id"] = "TV-Y"

    error = rejected(tmp_path, packaged, duplicate_rating)
    assert (error.path, error.error) == ("rating_systems[1].ratings[1].id", "duplicate 'TV-Y'")


def test_rejects_lexicon_and_band_cross_references(tmp_path, packaged) -> None:
    def category(d: dict) -> None:
        d["lexicon"]["categories"]["slurs"]["descriptor"] = "hate"

    error = rejected(tmp_path, packaged, category)
    assert error.path == "lexicon.categories.slurs.descriptor"
    assert "unknown descriptor 'hate'" in error.error

    def band(d: dict) -> None:
        d["calibration"]["uncertain_bands"]["nudity"] = [0.7, 0.2]

    error = rejected(tmp_path, packaged, band)
    assert error.path == "calibration.uncertain_bands.nudity"

    def twice(d: dict) -> None:
        d["lexicon"]["tiers"]["severe"].append("Damn")

    error = rejected(tmp_path, packaged, twice)
    assert error.path.startswith("lexicon.tiers.")
    assert "already listed" in error.error


def test_rejects_unreadable_and_malformed_files(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(TaxonomyError, match="cannot read") as info:
        taxonomy.load(missing)
    assert str(missing) in str(info.value)

    broken = tmp_path / "broken.yaml"
    broken.write_text("mood: [unclosed\n")
    with pytest.raises(TaxonomyError, match="invalid YAML"):
        taxonomy.load(broken)

    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(TaxonomyError, match="top level must be a mapping"):
        taxonomy.load(scalar)


def test_fingerprint_ignores_layout_and_comments(tmp_path, packaged) -> None:
    reference = taxonomy.load()
    # Same values, another layout: block style, keys sorted, no comments at all.
    path = tmp_path / "relaid.yaml"
    path.write_text(yaml.safe_dump(packaged, sort_keys=True, default_flow_style=False))
    relaid = taxonomy.load(path)
    assert relaid.fingerprint == reference.fingerprint
    assert relaid.source != reference.source


def test_fingerprint_changes_with_any_value(tmp_path, packaged) -> None:
    reference = taxonomy.load().fingerprint
    edits = [
        lambda d: d["mood"][0].__setitem__("threshold", 0.55),
        lambda d: d["tone"][1]["vision_prompts"].append("a rain-soaked city street at night"),
        lambda d: d["lexicon"]["tiers"]["mild"].append("blimey"),
        lambda d: d["rating_systems"][0]["ratings"][1].__setitem__("min_age", 9),
    ]
    seen = {reference}
    for i, edit in enumerate(edits):
        data = copy.deepcopy(packaged)
        edit(data)
        fingerprint = taxonomy.load(write(tmp_path, data, f"edit{i}.yaml")).fingerprint
        assert fingerprint not in seen
        seen.add(fingerprint)


def test_cache_follows_file_changes(tmp_path, packaged) -> None:
    path = write(tmp_path, packaged)
    first = taxonomy.load(path)
    assert taxonomy.load(str(path)) is first
    data = copy.deepcopy(packaged)
    data["version"] = "1.1"
    write(tmp_path, data)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = taxonomy.load(path)
    assert second is not first
    assert second.version == "1.1"
    assert second.fingerprint != first.fingerprint


def test_editor_extended_taxonomy_loads_without_code(tmp_path, packaged) -> None:
    """What COLDSTART_TAXONOMY=path points at: an editor's copy with a new mood label,
    a new tone prompt and a stricter rule."""
    data = copy.deepcopy(packaged)
    data["version"] = "1-editorial"
    data["mood"].append(
        {
            "id": "spooky",
            "name": "Spooky",
            "description": "Ghostly fun that gives goosebumps without real terror.",
            "vision_prompts": ["a haunted house at halloween", "a friendly ghost in a film"],
            "text_cues": ["boo", "it's haunted"],
            "audio_cues": [{"feature": "silence_share", "sign": 1, "weight": 0.5}],
            "style_cues": [{"feature": "lighting_key", "sign": -1, "weight": 0.7}],
            "threshold": 0.45,
        }
    )
    data["rating_systems"][0]["rules"].append(
        {"descriptor": "frightening-scenes", "severity": "mild", "rating": "PG-13"}
    )
    tax = taxonomy.load(write(tmp_path, data))
    spooky = tax.label("mood", "spooky")
    assert spooky.threshold == 0.45
    assert spooky.audio_cues[0].feature == "silence_share" and spooky.style_cues[0].sign == -1
    assert len(tax.mood) == len(packaged["mood"]) + 1
    assert tax.version == "1-editorial"
    assert tax.fingerprint != taxonomy.load().fingerprint
    assert tax.rating_system("mpaa").min_rating("frightening-scenes", "mild").id == "PG-13"
    assert taxonomy.load().rating_system("mpaa").min_rating("frightening-scenes", "mild").id == "PG"


def test_numeric_rating_ids_are_read_as_text(tmp_path) -> None:
    """BBFC's 15 and 18 written unquoted are still the ratings "15" and "18"."""
    text = default_path().read_text(encoding="utf-8").replace('"15"', "15").replace('"18"', "18")
    path = tmp_path / "unquoted.yaml"
    path.write_text(text)
    bbfc = taxonomy.load(path).rating_system("bbfc")
    assert [r.id for r in bbfc.ratings] == ["U", "PG", "12A", "15", "18"]
    assert bbfc.min_rating("violence", "strong").id == "15"
