"""Search interpretation on the real MiniLM: a table of queries with the ceiling, duration
and moods each must yield, and what is left as free text."""

from __future__ import annotations

import pytest

from recommend.index import Ceiling
from recommend.query import parse
from tests.api.catalogue import TAX

# query -> (viewer age, max duration s, moods, words that must stay free text)
TABLE = [
    ("show me something spooky but okay for a 10-year-old", 10, None, {"eerie"}, set()),
    ("funny family movie night", 8, None, {"comedic"}, set()),
    ("creepy haunted house for the kids", 7, None, {"eerie"}, {"house"}),
    ("nothing too scary, under 30 minutes", 10, 1800.0, set(), set()),
    ("I only have 20 minutes, something cheerful", None, 1200.0, {"joyful"}, set()),
    (
        "dark gritty thriller about a heist",
        None,
        None,
        {"dark", "gritty", "suspenseful"},
        {"heist"},
    ),
    ("romantic comedy in paris under an hour", None, 3600.0, {"romantic", "comedic"}, {"paris"}),
    ("robots in space for my 6 year old", 6, None, set(), {"robots", "space"}),
    ("happy songs for toddlers, less than 1.5 hours", 4, 5400.0, {"joyful"}, {"songs"}),
    ("a teen drama", 13, None, set(), {"drama"}),
]


@pytest.mark.parametrize(
    ("query", "age", "duration", "moods", "free"), TABLE, ids=[t[0] for t in TABLE]
)
def test_interpretation_table(mood_matcher, query, age, duration, moods, free) -> None:
    got = parse(query, TAX, mood_matcher)
    assert got.viewer_age == age
    assert (got.ceiling.max_age if got.ceiling else None) == age
    assert got.max_duration_s == duration
    assert {m.label for m in got.moods} == moods
    assert free <= set(got.free_text.split())
    assert not ({m.word for m in got.moods} & set(got.free_text.split()))


def test_explicit_ceiling_keeps_its_system_and_takes_the_stricter_age(mood_matcher) -> None:
    tv_pg = Ceiling.for_rating(TAX, "us-tv", "TV-PG")
    got = parse("for the kids", TAX, mood_matcher, ceiling=tv_pg)
    assert got.ceiling is not None
    assert (got.ceiling.max_age, got.ceiling.system, got.ceiling.rating) == (7, "us-tv", "TV-PG")
    looser = parse("okay for a 16 year old", TAX, mood_matcher, ceiling=tv_pg)
    assert looser.ceiling is not None and looser.ceiling.max_age == 10  # never loosened


def test_scary_under_a_negation_is_a_ceiling_not_a_mood(mood_matcher) -> None:
    got = parse("nothing too scary please", TAX, mood_matcher)
    assert got.viewer_age == 10 and not got.moods
    assert parse("something scary", TAX, mood_matcher).moods[0].label == "eerie"


def test_new_words_and_the_free_text_they_leave_are_encoded_in_one_batch(mood_matcher) -> None:
    """A query with words the matcher has not seen encodes them together with its free text
    (one forward pass), so the search's free-text lookup then finds it cached."""
    from recommend.query import MoodMatcher

    calls: list[list[str]] = []

    def embed(texts):
        calls.append(list(texts))
        return mood_matcher.embed(texts)

    matcher = MoodMatcher(TAX, embed)
    parse("something creepy", TAX, matcher)  # "creepy" is now known to name a mood
    calls.clear()
    got = parse("creepy lighthouse keeper", TAX, matcher)
    assert [m.label for m in got.moods] == ["eerie"] and got.free_text == "lighthouse keeper"
    matcher.vectors([got.free_text])  # what the search service asks for next
    assert calls == [["lighthouse", "keeper", "lighthouse keeper"]]
