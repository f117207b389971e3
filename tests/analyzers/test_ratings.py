"""The conservative ratings engine over the packaged taxonomy, with property tests over
generated descriptor assessments (the children's-rating guardrail and monotonicity)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taxonomy
from analyzers.fusion.ratings import (
    DescriptorAssessment,
    RatingSuggestion,
    suggest_rating,
    suggest_ratings,
)
from taxonomy.model import SEVERITY_LEVELS

TAX = taxonomy.load()
DESCRIPTORS = [d.id for d in TAX.descriptors]
REVIEW_BELOW = TAX.calibration.review_below


def clean(**changes: DescriptorAssessment) -> dict[str, DescriptorAssessment]:
    """Every descriptor assessed as none with high confidence, then ``changes``."""
    base = {d: DescriptorAssessment("none", confidence=0.95) for d in DESCRIPTORS}
    base.update({k.replace("_", "-"): v for k, v in changes.items()})
    return base


def order(suggestion: RatingSuggestion) -> int:
    return TAX.rating_system(suggestion.system).rating(suggestion.rating).order


def is_children(suggestion: RatingSuggestion) -> bool:
    return TAX.rating_system(suggestion.system).rating(suggestion.rating).children


def test_clean_confident_title_gets_the_childrens_ratings() -> None:
    out = suggest_ratings(TAX, clean())
    assert {s: v.rating for s, v in out.items()} == {"mpaa": "G", "us-tv": "TV-Y", "bbfc": "U"}
    assert not any(v.needs_review for v in out.values())
    assert all(v.drivers == () and v.confidence == 0.95 for v in out.values())
    assert out["mpaa"].reasons == ("G: no descriptor raises the rating",)


def test_absent_violence_blocks_childrens_ratings_and_says_why() -> None:
    no_vision = DescriptorAssessment.missing("no vision model installed")
    out = suggest_ratings(TAX, clean(violence=no_vision))
    assert {s: v.rating for s, v in out.items()} == {"mpaa": "PG", "us-tv": "TV-PG", "bbfc": "PG"}
    assert out["mpaa"].reasons == (
        "at least PG: violence not assessed (no vision model installed)",
    )
    assert out["us-tv"].reasons[0].startswith("at least TV-PG: violence not assessed")
    for suggestion in out.values():
        assert suggestion.needs_review
        (driver,) = suggestion.drivers
        assert (driver.descriptor, driver.status, driver.rating) == (
            "violence",
            "absent",
            suggestion.rating,
        )
        assert suggestion.min_age == TAX.min_age(suggestion.system, suggestion.rating)


def test_a_descriptor_left_out_of_the_assessment_counts_as_absent() -> None:
    assessments = clean()
    del assessments["gore"]
    suggestion = suggest_rating(TAX, "bbfc", assessments)
    assert suggestion.rating == "PG" and suggestion.needs_review
    assert suggestion.reasons == ("at least PG: gore not assessed (not in the assessment)",)


def test_uncertain_nudity_blocks_childrens_ratings() -> None:
    possible = DescriptorAssessment(
        None, confidence=0.8, uncertain=True, reason="NudeNet score in the uncertain band"
    )
    out = suggest_ratings(TAX, clean(nudity=possible))
    assert {s: v.rating for s, v in out.items()} == {"mpaa": "PG", "us-tv": "TV-PG", "bbfc": "PG"}
    assert all(v.needs_review for v in out.values())
    assert out["us-tv"].reasons == (
        "at least TV-PG: nudity possible (NudeNet score in the uncertain band)",
    )
    assert out["mpaa"].confidence == 0.4  # an uncertain descriptor counts half


def test_uncertain_descriptor_counts_at_the_severity_it_may_reach() -> None:
    up_to = DescriptorAssessment("moderate", confidence=0.8, uncertain=True, reason="band")
    suggestion = suggest_rating(TAX, "mpaa", clean(nudity=up_to))
    assert (suggestion.rating, suggestion.needs_review) == ("PG-13", True)
    assert suggestion.reasons == (
        "PG-13: nudity moderate",
        "to review: nudity possible up to moderate (band)",
    )


def test_rating_is_the_strictest_rule_reached_with_evidence() -> None:
    language = DescriptorAssessment("strong", confidence=0.9, evidence=((62.0, 63.5), (3725, 3726)))
    violence = DescriptorAssessment("moderate", confidence=0.9, evidence=((10.0, 40.0),))
    out = suggest_ratings(TAX, clean(strong_language=language, violence=violence))
    assert {s: v.rating for s, v in out.items()} == {"mpaa": "R", "us-tv": "TV-14", "bbfc": "15"}
    mpaa = out["mpaa"]
    assert not mpaa.needs_review
    assert [(d.descriptor, d.rating) for d in mpaa.drivers] == [
        ("strong-language", "R"),
        ("violence", "PG-13"),
    ]
    assert mpaa.drivers[0].evidence == ((62.0, 63.5), (3725, 3726))
    assert mpaa.reasons[0] == "R: strong language strong at 1:02–1:03, 1:02:05–1:02:06"


def test_same_speech_with_strong_language_rates_stricter_than_without() -> None:
    without = suggest_ratings(TAX, clean())
    with_language = suggest_ratings(
        TAX, clean(strong_language=DescriptorAssessment("mild", confidence=0.9))
    )
    for system in without:
        assert order(with_language[system]) > order(without[system])


def test_low_confidence_counts_the_stricter_severity_and_asks_for_review() -> None:
    doubtful = DescriptorAssessment("moderate", confidence=REVIEW_BELOW / 2)
    sure = DescriptorAssessment("moderate", confidence=0.95)
    low = suggest_rating(TAX, "mpaa", clean(violence=doubtful))
    high = suggest_rating(TAX, "mpaa", clean(violence=sure))
    assert (high.rating, high.needs_review) == ("PG-13", False)
    assert (low.rating, low.needs_review) == ("R", True)
    assert low.drivers[0].counted == "strong" and low.drivers[0].severity == "moderate"
    assert any(
        r.startswith("stricter under doubt: violence assessed moderate") for r in low.reasons
    )


def test_low_confidence_clean_assessment_is_not_a_childrens_rating() -> None:
    shaky = DescriptorAssessment("none", confidence=0.3)
    suggestion = suggest_rating(TAX, "mpaa", clean(gore=shaky))
    assert suggestion.needs_review and not is_children(suggestion)


def test_absent_descriptor_above_childrens_ratings_still_needs_review() -> None:
    assessments = clean(
        violence=DescriptorAssessment("strong", confidence=0.9),
        nudity=DescriptorAssessment.missing("NudeNet not installed"),
    )
    suggestion = suggest_rating(TAX, "mpaa", assessments)
    assert suggestion.rating == "R" and suggestion.needs_review
    assert "may be too lenient: nudity not assessed (NudeNet not installed)" in suggestion.reasons


def test_nothing_assessed_has_zero_confidence() -> None:
    nothing = {d: DescriptorAssessment.missing("no signals") for d in DESCRIPTORS}
    suggestion = suggest_rating(TAX, "bbfc", nothing)
    assert (suggestion.rating, suggestion.confidence, suggestion.needs_review) == ("PG", 0.0, True)
    assert len(suggestion.drivers) == len(DESCRIPTORS)


def test_suggestion_round_trips_through_json() -> None:
    assessments = clean(
        violence=DescriptorAssessment("strong", confidence=0.5, evidence=((1.5, 2.25),)),
        nudity=DescriptorAssessment(None, confidence=0.7, uncertain=True, reason="band"),
    )
    for suggestion in suggest_ratings(TAX, assessments).values():
        data = json.loads(json.dumps(suggestion.to_dict()))
        assert RatingSuggestion.from_dict(data) == suggestion


def test_rejects_unknown_descriptors_and_levels() -> None:
    with pytest.raises(ValueError, match="unknown descriptors: arson"):
        suggest_rating(TAX, "mpaa", {"arson": DescriptorAssessment("mild")})
    with pytest.raises(ValueError, match="unknown severity"):
        DescriptorAssessment("extreme")
    with pytest.raises(ValueError, match="confidence"):
        DescriptorAssessment("mild", confidence=1.5)


# --- property tests -------------------------------------------------------------------------

levels = st.sampled_from(SEVERITY_LEVELS)
confidences = st.floats(0.0, 1.0, allow_nan=False)
# One descriptor's assessment: assessed, uncertain (maybe without a level), absent, or left
# out of the mapping altogether (None here).
assessment = st.one_of(
    st.builds(DescriptorAssessment, severity=levels, confidence=confidences),
    st.builds(
        DescriptorAssessment,
        severity=st.one_of(st.none(), levels),
        confidence=confidences,
        uncertain=st.just(True),
        reason=st.just("in its uncertain band"),
    ),
    st.builds(DescriptorAssessment.missing, reason=st.just("model not installed")),
    st.none(),
)
assessments = st.fixed_dictionaries({d: assessment for d in DESCRIPTORS}).map(
    lambda found: {d: a for d, a in found.items() if a is not None}
)


@settings(max_examples=300, deadline=None)
@given(assessments)
def test_property_absent_or_uncertain_never_yields_a_childrens_rating(found) -> None:
    doubtful = len(found) < len(DESCRIPTORS) or any(a.absent or a.uncertain for a in found.values())
    for suggestion in suggest_ratings(TAX, found).values():
        if doubtful:
            assert not is_children(suggestion), suggestion.reasons
            assert suggestion.needs_review
        assert suggestion.reasons


@settings(max_examples=300, deadline=None)
@given(assessments)
def test_property_never_more_lenient_than_any_rule_reached(found) -> None:
    for system in TAX.rating_systems:
        suggestion = suggest_rating(TAX, system, found)
        for descriptor, a in found.items():
            if a.severity is not None and not a.absent:
                floor = system.min_rating(descriptor, a.severity)
                assert order(suggestion) >= floor.order
        assert suggestion.min_age == system.rating(suggestion.rating).min_age


def _raise(a: DescriptorAssessment, steps: int, less_sure: float) -> DescriptorAssessment:
    """The same kind of assessment, ``steps`` levels more severe and less confident."""
    if a.absent:
        return a
    rank = -1 if a.severity is None else SEVERITY_LEVELS.index(a.severity)
    rank = min(rank + steps, len(SEVERITY_LEVELS) - 1)
    severity = None if rank < 0 else SEVERITY_LEVELS[rank]
    if severity is None and not a.uncertain:
        return a
    return DescriptorAssessment(
        severity,
        confidence=a.confidence * less_sure,
        uncertain=a.uncertain,
        reason=a.reason,
        evidence=a.evidence,
    )


@settings(max_examples=300, deadline=None)
@given(
    found=assessments,
    steps=st.lists(st.integers(0, 4), min_size=len(DESCRIPTORS), max_size=len(DESCRIPTORS)),
    less_sure=st.floats(0.0, 1.0, allow_nan=False),
)
def test_property_more_severe_input_is_never_less_strict(found, steps, less_sure) -> None:
    worse = {
        d: _raise(a, step, less_sure) for (d, a), step in zip(found.items(), steps, strict=False)
    }
    before, after = suggest_ratings(TAX, found), suggest_ratings(TAX, worse)
    for system in before:
        assert order(after[system]) >= order(before[system])
