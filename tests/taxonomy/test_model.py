"""The packaged vocabulary and the model's helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import taxonomy
from taxonomy.model import AUDIO_FEATURES, STYLE_FEATURES

TAX = taxonomy.load()
ISSUE_MOODS = [
    "tense",
    "eerie",
    "suspenseful",
    "joyful",
    "melancholic",
    "romantic",
    "hopeful",
    "nostalgic",
    "bittersweet",
    "whimsical",
    "high-energy",
    "calm",
    "uplifting",
    "somber",
    "playful",
    "intimate",
]
ISSUE_TONES = "dark gritty lighthearted comedic satirical earnest cerebral campy epic raw warm"
DESCRIPTORS = [
    "violence",
    "gore",
    "sexual-content",
    "nudity",
    "strong-language",
    "crude-humour",
    "substance-use",
    "frightening-scenes",
    "self-harm",
    "discriminatory-language",
]


def test_facets_hold_the_issue_vocabulary() -> None:
    assert len(TAX.labels("mood")) >= 20 and len(TAX.labels("tone")) >= 15
    assert {label.id for label in TAX.mood} >= set(ISSUE_MOODS)
    assert {label.id for label in TAX.tone} >= set(ISSUE_TONES.split())
    assert [d.id for d in TAX.labels("maturity")] == DESCRIPTORS
    with pytest.raises(KeyError):
        TAX.labels("genre")
    with pytest.raises(KeyError):
        TAX.label("mood", "sleepy")


@pytest.mark.parametrize("facet", ["mood", "tone", "maturity"])
def test_every_label_is_complete(facet: str) -> None:
    for label in TAX.labels(facet):
        assert label.facet == facet and label.description and label.name
        assert len(label.vision_prompts) >= 2, label.id  # an ensemble, not one prompt
        assert 0.0 <= label.threshold <= 1.0
        assert all(c.feature in AUDIO_FEATURES for c in label.audio_cues)
        assert all(c.feature in STYLE_FEATURES for c in label.style_cues)
        if facet != "maturity":
            assert label.text_cues and label.audio_cues and label.style_cues, label.id


def test_rating_systems_and_children_flags() -> None:
    ids = {s.id: [r.id for r in s.ratings] for s in TAX.rating_systems}
    assert ids == {
        "mpaa": ["G", "PG", "PG-13", "R", "NC-17"],
        "us-tv": ["TV-Y", "TV-Y7", "TV-G", "TV-PG", "TV-14", "TV-MA"],
        "bbfc": ["U", "PG", "12A", "15", "18"],
    }
    children = {r.id for s in TAX.rating_systems for r in s.ratings if r.children}
    assert children == {"G", "TV-Y", "TV-Y7", "TV-G", "U"}
    assert TAX.rating_system("BBFC") is TAX.rating_system("bbfc")
    assert TAX.rating_system("US TV Parental Guidelines").id == "us-tv"
    assert [r.order for r in TAX.rating_system("mpaa").ratings] == [0, 1, 2, 3, 4]


def test_every_descriptor_can_raise_every_system() -> None:
    """So the children's-rating guardrail covers every descriptor in every system."""
    for system in TAX.rating_systems:
        for descriptor in TAX.descriptors:
            assert system.can_raise(descriptor.id), (system.id, descriptor.id)
            ranks = [
                system.min_rating(descriptor.id, level).order
                for level in ("none", "mild", "moderate", "strong", "severe")
            ]
            assert ranks == sorted(ranks) and ranks[0] == 0


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (5, {"mpaa": "G", "us-tv": "TV-Y", "bbfc": "U"}),
        (10, {"mpaa": "PG", "us-tv": "TV-PG", "bbfc": "PG"}),
        (13, {"mpaa": "PG-13", "us-tv": "TV-PG", "bbfc": "12A"}),
        (17, {"mpaa": "R", "us-tv": "TV-MA", "bbfc": "15"}),
        (40, {"mpaa": "NC-17", "us-tv": "TV-MA", "bbfc": "18"}),
    ],
)
def test_ceiling_for_age(age: int, expected: dict[str, str]) -> None:
    assert {s: TAX.ceiling_for_age(s, age).id for s in expected} == expected


@given(system=st.sampled_from([s.id for s in TAX.rating_systems]), age=st.integers(0, 120))
def test_ceiling_is_the_last_rating_suitable_for_the_age(system: str, age: int) -> None:
    ceiling = TAX.ceiling_for_age(system, age)
    assert ceiling is not None  # every shipped system has a rating for all ages
    assert TAX.min_age(system, ceiling.id) <= age
    stricter = TAX.rating_system(system).ratings[ceiling.order + 1 :]
    assert all(rating.min_age > age for rating in stricter)


@pytest.mark.parametrize(
    ("system", "rating"),
    [(s.id, r.id) for s in TAX.rating_systems for r in s.ratings],
)
def test_ceiling_round_trips_with_min_age(system: str, rating: str) -> None:
    age = TAX.min_age(system, rating)
    ceiling = TAX.ceiling_for_age(system, age)
    order = TAX.rating_system(system).rating(rating).order
    assert ceiling.min_age == age and ceiling.order >= order
    if age > 0:
        below = TAX.ceiling_for_age(system, age - 1)
        assert below is None or below.order < order  # one year younger: not allowed


def test_lexicon_tiers_and_categories() -> None:
    lex = TAX.lexicon
    for word in ("damn", "Hell", "CRAP"):
        assert lex.tier(word) == "mild"
        assert lex.classify(word) == ("strong-language", "mild")
    assert lex.tier("shit") == "strong" and lex.tier("fucking") == "severe"
    assert lex.tier("class") is None and lex.classify("class") is None
    assert lex.classify("unlisted-slur", "slurs") == ("discriminatory-language", "strong")
    assert lex.classify("unlisted", "sexual") == ("sexual-content", "mild")
    assert lex.classify("fuck", "general") == ("strong-language", "severe")  # tier wins
    assert "damn" in lex.terms() and len(set(lex.terms())) == len(lex.terms())


def test_calibration() -> None:
    cal = TAX.calibration
    assert cal.facet("maturity").top_k == 3
    assert set(cal.facet("mood").weights) == {"vision", "text", "audio", "style"}
    low, high = cal.uncertain_band("nudity")
    assert 0.0 <= low < high <= 1.0
    assert cal.uncertain_band("gore") is None
