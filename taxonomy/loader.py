"""Load and validate a taxonomy YAML file into ``taxonomy.model.Taxonomy``.

Validation is strict: pydantic (``extra="forbid"``) checks the shape, then cross-references
are checked by hand. Every rejection is a ``TaxonomyError`` naming the file, the path inside
it (``mood[3].threshold``) and the error. The fingerprint is the sha256 of the canonical JSON
of the validated content, so comments and layout never change it and any value does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from taxonomy.model import (
    AUDIO_FEATURES,
    LEXICON_TIERS,
    SEVERITY_LEVELS,
    SIGNALS,
    STYLE_FEATURES,
    Calibration,
    Cue,
    FacetCalibration,
    Label,
    Lexicon,
    LexiconCategory,
    Rating,
    RatingRule,
    RatingSystem,
    Taxonomy,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used: ``file: path: error``."""

    def __init__(self, file: str | Path, path: str, error: str) -> None:
        self.file, self.path, self.error = str(file), path, error
        where = f"{self.file}: {path}" if path else self.file
        super().__init__(f"{where}: {error}")


def default_path() -> Path:
    return DATA_DIR / "v1.yaml"


# --- the file's shape --------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=SLUG)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Cue(_Strict):
    feature: str
    sign: Literal[1, -1]
    weight: Unit

    known: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = ""

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, feature: str) -> str:
        if feature not in cls.known:
            known = ", ".join(cls.known)
            raise ValueError(f"unknown {cls.kind} cue feature {feature!r}; known: {known}")
        return feature


class _AudioCue(_Cue):
    known, kind = AUDIO_FEATURES, "audio"


class _StyleCue(_Cue):
    known, kind = STYLE_FEATURES, "style"


class _Label(_Strict):
    id: Slug
    name: Text
    description: Text
    vision_prompts: list[Text] = Field(min_length=1)
    text_cues: list[Text] = Field(default_factory=list)
    audio_cues: list[_AudioCue] = Field(default_factory=list)
    style_cues: list[_StyleCue] = Field(default_factory=list)
    threshold: Unit


class _FacetCalibration(_Strict):
    weights: dict[Literal[SIGNALS], Unit]  # type: ignore[valid-type]
    top_k: Annotated[int, Field(ge=1)] | None = None


class _Calibration(_Strict):
    mood: _FacetCalibration
    tone: _FacetCalibration
    maturity: _FacetCalibration
    uncertain_bands: dict[Slug, tuple[Unit, Unit]] = Field(default_factory=dict)
    review_below: Unit


class _LexiconCategory(_Strict):
    descriptor: Slug
    tier: Literal[LEXICON_TIERS]  # type: ignore[valid-type]


class _Lexicon(_Strict):
    descriptor: Slug
    tiers: dict[Literal[LEXICON_TIERS], list[Text]]  # type: ignore[valid-type]
    categories: dict[Slug, _LexiconCategory]


class _Rating(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)  # 15, 18

    id: Text
    name: str = ""
    min_age: Annotated[int, Field(ge=0, le=99)]
    children: bool = False


class _Rule(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    descriptor: str
    severity: str
    rating: str


class _RatingSystem(_Strict):
    id: Slug
    name: Text
    ratings: list[_Rating] = Field(min_length=2)
    rules: list[_Rule] = Field(default_factory=list)


class _File(_Strict):
    version: Text
    calibration: _Calibration
    mood: list[_Label] = Field(min_length=1)
    tone: list[_Label] = Field(min_length=1)
    descriptors: list[_Label] = Field(min_length=1)
    lexicon: _Lexicon
    rating_systems: list[_RatingSystem] = Field(min_length=1)


# --- reading -----------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a taxonomy must not hide one silently."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic marks a bad mapping key; the key is already named
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _parse(file: Path) -> _File:
    try:
        raw = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise TaxonomyError(file, "", f"cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(file, "", f"invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TaxonomyError(file, "", "the top level must be a mapping")
    try:
        return _File.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]  # one clear error at a time; the file is fixed and reloaded
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key"
        raise TaxonomyError(file, _dotted(tuple(first["loc"])), msg) from exc


def _duplicates(file: Path, where: str, ids: list[str], field: str = "id") -> None:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            raise TaxonomyError(file, f"{where}[{i}].{field}", f"duplicate {item!r}")
        seen.add(item)


def _cross_check(file: Path, data: _File) -> None:
    for facet in ("mood", "tone", "descriptors"):
        _duplicates(file, facet, [label.id for label in getattr(data, facet)])
    descriptors = {d.id for d in data.descriptors}

    bands = data.calibration.uncertain_bands
    for name, (low, high) in bands.items():
        path = f"calibration.uncertain_bands.{name}"
        if name not in descriptors:
            raise TaxonomyError(file, path, f"unknown descriptor {name!r}")
        if low > high:
            raise TaxonomyError(file, path, f"band low {low} is above high {high}")

    terms: dict[str, str] = {}
    for tier, words in data.lexicon.tiers.items():
        for i, word in enumerate(words):
            key = word.casefold()
            if key in terms:
                path = f"lexicon.tiers.{tier}[{i}]"
                raise TaxonomyError(file, path, f"{word!r} already listed in {terms[key]}")
            terms[key] = tier
    if data.lexicon.descriptor not in descriptors:
        name = data.lexicon.descriptor
        raise TaxonomyError(file, "lexicon.descriptor", f"unknown descriptor {name!r}")
    for category, target in data.lexicon.categories.items():
        if target.descriptor not in descriptors:
            path = f"lexicon.categories.{category}.descriptor"
            raise TaxonomyError(file, path, f"unknown descriptor {target.descriptor!r}")

    _duplicates(file, "rating_systems", [s.id for s in data.rating_systems])
    for s, system in enumerate(data.rating_systems):
        where = f"rating_systems[{s}]"
        _duplicates(file, f"{where}.ratings", [r.id for r in system.ratings])
        ratings = {r.id for r in system.ratings}
        for r in range(1, len(system.ratings)):
            before, rating = system.ratings[r - 1], system.ratings[r]
            if rating.min_age < before.min_age:
                # A ceiling for an age must be a prefix of the order.
                raise TaxonomyError(
                    file,
                    f"{where}.ratings[{r}].min_age",
                    f"{rating.min_age} is below {before.id}'s {before.min_age}: "
                    "ages must not fall along the order",
                )
            if rating.children and not before.children:
                raise TaxonomyError(
                    file,
                    f"{where}.ratings[{r}].children",
                    "children's ratings must come first, before every other rating",
                )
        if all(r.children for r in system.ratings):
            raise TaxonomyError(file, f"{where}.ratings", "needs a rating that is not for children")
        for i, rule in enumerate(system.rules):
            path = f"{where}.rules[{i}]"
            if rule.descriptor not in descriptors:
                raise TaxonomyError(
                    file, f"{path}.descriptor", f"unknown descriptor {rule.descriptor!r}"
                )
            if rule.severity not in SEVERITY_LEVELS[1:]:
                levels = ", ".join(SEVERITY_LEVELS[1:])
                raise TaxonomyError(
                    file, f"{path}.severity", f"unknown level {rule.severity!r}; levels: {levels}"
                )
            if rule.rating not in ratings:
                raise TaxonomyError(
                    file, f"{path}.rating", f"unknown rating {rule.rating!r} in {system.id}"
                )


# --- building ----------------------------------------------------------------------------


def _cues(cues: list[_Cue]) -> tuple[Cue, ...]:
    return tuple(Cue(c.feature, c.sign, c.weight) for c in cues)


def _label(facet: str, label: _Label) -> Label:
    return Label(
        facet=facet,
        id=label.id,
        name=label.name,
        description=label.description,
        vision_prompts=tuple(label.vision_prompts),
        text_cues=tuple(label.text_cues),
        audio_cues=_cues(label.audio_cues),
        style_cues=_cues(label.style_cues),
        threshold=label.threshold,
    )


def _system(system: _RatingSystem) -> RatingSystem:
    return RatingSystem(
        id=system.id,
        name=system.name,
        ratings=tuple(
            Rating(r.id, order, r.min_age, r.children, r.name)
            for order, r in enumerate(system.ratings)
        ),
        rules=tuple(RatingRule(r.descriptor, r.severity, r.rating) for r in system.rules),
    )


def _calibration(cal: _Calibration) -> Calibration:
    facets = {
        facet: FacetCalibration(MappingProxyType(dict(c.weights)), c.top_k)
        for facet, c in (("mood", cal.mood), ("tone", cal.tone), ("maturity", cal.maturity))
    }
    return Calibration(
        facets=MappingProxyType(facets),
        uncertain_bands=MappingProxyType(dict(cal.uncertain_bands)),
        review_below=cal.review_below,
    )


def fingerprint_of(data: _File) -> str:
    canonical = json.dumps(
        data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _build(file: Path, data: _File) -> Taxonomy:
    lex = data.lexicon
    return Taxonomy(
        version=data.version,
        fingerprint=fingerprint_of(data),
        source=str(file),
        mood=tuple(_label("mood", label) for label in data.mood),
        tone=tuple(_label("tone", label) for label in data.tone),
        descriptors=tuple(_label("maturity", label) for label in data.descriptors),
        lexicon=Lexicon(
            descriptor=lex.descriptor,
            tiers=MappingProxyType(
                {tier: tuple(w.casefold() for w in words) for tier, words in lex.tiers.items()}
            ),
            categories=MappingProxyType(
                {name: LexiconCategory(c.descriptor, c.tier) for name, c in lex.categories.items()}
            ),
        ),
        rating_systems=tuple(_system(s) for s in data.rating_systems),
        calibration=_calibration(data.calibration),
    )


_CACHE: dict[tuple[str, int, int], Taxonomy] = {}


def load(path: str | Path | None = None) -> Taxonomy:
    """Load the taxonomy at ``path`` (default: the packaged ``data/v1.yaml``).

    Cached by (path, mtime, size): an edited file is read again."""
    file = Path(path).expanduser().resolve() if path is not None else default_path()
    try:
        stat = file.stat()
    except OSError as exc:
        raise TaxonomyError(file, "", f"cannot read: {exc.strerror or exc}") from exc
    key = (str(file), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        data = _parse(file)
        _cross_check(file, data)
        _CACHE[key] = _build(file, data)
    return _CACHE[key]


__all__ = ["TaxonomyError", "default_path", "load"]
