"""Request and response bodies of /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from web.openapi import MAX_ID

TitleId = Annotated[int, Field(ge=1, le=MAX_ID)]


class CeilingIn(BaseModel):
    """A hard maturity ceiling: a rating with its system, and/or a viewer age."""

    system: str | None = Field(None, max_length=32, examples=["us-tv"])
    rating: str | None = Field(None, max_length=32, examples=["TV-PG"])
    max_age: int | None = Field(None, ge=0, le=99, examples=[10])


class RecommendIn(BaseModel):
    liked_title_ids: list[TitleId] = Field(..., min_length=1, max_length=200)
    disliked_title_ids: list[TitleId] = Field(default_factory=list, max_length=200)
    k: int = Field(10, ge=1, le=100)
    ceiling: CeilingIn | None = None
    only_new_days: float | None = Field(None, gt=0, le=36500)
    max_duration_s: float | None = Field(None, gt=0)
    exclude: list[TitleId] = Field(default_factory=list, max_length=1000)
    diversity: float = Field(0.0, ge=0.0, le=1.0, description="MMR: 0 = pure relevance")
    space: str | None = Field(None, max_length=64)


class SearchIn(BaseModel):
    query: str = Field(..., min_length=1, max_length=500)
    k: int = Field(10, ge=1, le=100)
    ceiling: CeilingIn | None = None


class RatingOut(BaseModel):
    system: str
    rating: str | None
    min_age: int
    trusted: bool  # a final rating, or a suggestion that needs no review


class TitleHit(BaseModel):
    id: int
    name: str
    score: float
    duration_s: float | None = None
    ratings: list[RatingOut] = Field(default_factory=list)
    reason: str | None = None
    shared: list[str] = Field(default_factory=list)
    artwork: dict[str, Any] | None = None


class HitsOut(BaseModel):
    space: str | None
    ceiling: dict[str, Any] | None
    results: list[TitleHit]


class SearchOut(HitsOut):
    interpretation: dict[str, Any]


class TitlePage(BaseModel):
    titles: list[dict[str, Any]]
    next_cursor: str | None


class ChangesOut(BaseModel):
    events: list[dict[str, Any]]
    last_id: int
