"""The smart labeler: suggested tags or boxes for untagged images, and how unsure each one is.

A suggestion is what a trained iteration predicts for one image, with its uncertainty
(``vision.uncertainty``). Iterations and images never change once made, so a suggestion is
computed once per (iteration, image), stored in the ``suggestions`` table, and read from there
afterwards: asking again costs a query, not a model run.

An image's *suggested tags* at a threshold ``t`` are, for Multiclass, its most probable tag if
that probability is at least ``t``; for Multilabel, every tag with probability at least ``t``; for
object detection, the tag of every box with probability at least ``t``. Filters and counts use
this rule.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tagsight.errors import BadRequest, ErrorCode, NotFound
from tagsight.services import domains
from tagsight.services.image_files import ImageFiles
from tagsight.services.iterations import require_iteration, require_trained
from tagsight.services.prediction import ModelCache
from tagsight.services.projects import require_project
from tagsight.store.db import transaction
from tagsight.store.repos import images as image_repo
from tagsight.store.repos import iterations as iteration_repo
from tagsight.store.repos import projects as project_repo
from tagsight.store.repos import suggestions as suggestion_repo
from tagsight.store.repos import tags as tag_repo
from tagsight.store.tables import Image, Iteration, IterationTag, Suggestion, utcnow
from tagsight.vision.imageio import decode_rgb
from tagsight.vision.runtime import OnnxModel
from tagsight.vision.uncertainty import (
    detection_uncertainty,
    multiclass_uncertainty,
    multilabel_uncertainty,
)

log = logging.getLogger(__name__)

SORTS = ("UncertaintyDescending", "UncertaintyAscending")
MAX_IMAGES_PER_REQUEST = 64
MAX_COUNT = 256
# Boxes below this probability are noise; they still count towards the image's uncertainty
# down to the Prediction API's floor, but are not kept as suggestions.
MIN_BOX_SCORE = 0.01
MIN_SUGGESTED_BOX = 0.05
MAX_SUGGESTED_BOXES = 50
BATCH = 16  # images per model run, and per commit (a long first query keeps what it computed)


@dataclass(frozen=True)
class SuggestionView:
    """A cached suggestion with the image it is for."""

    suggestion: Suggestion
    image: Image


@dataclass(frozen=True)
class SuggestionQuery:
    """Azure's SuggestedTagAndRegionQueryToken, parsed."""

    tag_ids: tuple[str, ...] = ()
    threshold: float | None = None
    sort_by: str = "UncertaintyDescending"
    max_count: int = 50
    continuation: str | None = None
    session: str | None = None


@dataclass(frozen=True)
class SuggestionPage:
    items: list[SuggestionView]
    continuation: str | None  # None on the last page
    session: str  # names the query; a continuation is only valid with the same query
    total: int  # images matching the query, on every page


def suggested_tags(predictions: Sequence[dict[str, Any]], threshold: float, *, multiclass: bool) -> set[str]:
    """The tags suggested for one image at ``threshold`` (the rule in this module's docstring)."""
    if multiclass:
        best = max(predictions, key=lambda p: p["probability"], default=None)
        return {best["tagId"]} if best is not None and best["probability"] >= threshold else set()
    return {p["tagId"] for p in predictions if p["probability"] >= threshold}


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise BadRequest(ErrorCode.BadRequestInvalid, "threshold must be between 0 and 1.")


def _encode(key: tuple[float, str]) -> str:
    return f"{key[0]!r}/{key[1]}"  # repr round-trips a float exactly


def _decode(token: str) -> tuple[float, str]:
    value, _, image_id = token.partition("/")
    try:
        return float(value), image_id
    except ValueError as exc:
        raise BadRequest(ErrorCode.BadRequestInvalid, "Invalid continuation token.") from exc


class SuggestionService:
    def __init__(self, db: sessionmaker[Session], files: ImageFiles, models: ModelCache) -> None:
        self.db = db
        self.files = files
        self.models = models
        # One computation at a time: two requests for the same images must not both insert them.
        self._lock = threading.Lock()

    # --- the three operations ------------------------------------------------------------------

    def suggest(self, project_id: str, iteration_id: str, image_ids: Sequence[str]) -> list[SuggestionView]:
        """Suggestions for these images of the project (any tagging state), in the order asked."""
        ids = list(dict.fromkeys(image_ids))
        if not ids:
            raise BadRequest(ErrorCode.BadRequestRequiredParamIsNull, "imageIds is required.")
        if len(ids) > MAX_IMAGES_PER_REQUEST:
            raise BadRequest(
                ErrorCode.BadRequestExceededBatchSize,
                f"At most {MAX_IMAGES_PER_REQUEST} images can be given at once.",
            )
        iteration = self._trained_iteration(project_id, iteration_id)
        with self.db() as session:
            found = image_repo.by_ids(session, project_id=project_id, image_ids=ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(
                ErrorCode.NotFoundImage, f"Image(s) {', '.join(missing)} not found in project {project_id}."
            )
        cached = self._ensure(iteration, [found[i] for i in ids])
        return [SuggestionView(cached[i], found[i]) for i in ids if i in cached]

    def query(self, project_id: str, iteration_id: str, query: SuggestionQuery) -> SuggestionPage:
        """One page of the project's untagged images with their suggestions, by uncertainty."""
        _check_threshold(query.threshold)
        if query.sort_by not in SORTS:
            raise BadRequest(ErrorCode.BadRequestInvalid, f"sortBy must be one of {', '.join(SORTS)}.")
        if not 1 <= query.max_count <= MAX_COUNT:
            raise BadRequest(ErrorCode.BadRequestInvalid, f"maxCount must be 1..{MAX_COUNT}.")
        iteration = self._trained_iteration(project_id, iteration_id)
        self._check_tags(project_id, iteration.id, query.tag_ids)
        session_id = self._session_id(iteration.id, query)
        if query.continuation and query.session and query.session != session_id:
            raise BadRequest(
                ErrorCode.BadRequestInvalid, "The continuation token belongs to a different query."
            )
        rows = self._untagged(project_id, iteration)
        if query.tag_ids or query.threshold is not None:
            wanted = set(query.tag_ids)
            multiclass = _is_multiclass(iteration)
            rows = [
                r
                for r in rows
                if (
                    tags := suggested_tags(
                        r.suggestion.predictions, query.threshold or 0.0, multiclass=multiclass
                    )
                )
                and (not wanted or tags & wanted)
            ]
        descending = query.sort_by == "UncertaintyDescending"

        def key(view: SuggestionView) -> tuple[float, str]:
            return (view.suggestion.uncertainty, view.image.id)

        rows.sort(key=key, reverse=descending)
        total = len(rows)
        if query.continuation:
            after = _decode(query.continuation)
            rows = [r for r in rows if (key(r) < after if descending else key(r) > after)]
        page = rows[: query.max_count]
        following = _encode(key(page[-1])) if len(rows) > len(page) else None
        return SuggestionPage(page, following, session_id, total)

    def most_uncertain(self, project: str, *, take: int) -> tuple[Iteration, SuggestionPage]:
        """The ``take`` most uncertain untagged images of a project (by name or id), by its
        latest trained iteration: the labelling queue the CLI prints."""
        with self.db() as session:
            # Names are unique regardless of case, as on Azure.
            matches = (p for p in project_repo.list_all(session) if project.lower() in (p.id, p.name.lower()))
            found = next(matches, None)
            if found is None:
                raise NotFound(ErrorCode.NotFoundProject, f"No project is named '{project}'.")
            iteration = iteration_repo.latest_completed(session, project_id=found.id)
        if iteration is None:
            raise NotFound(
                ErrorCode.NotFoundProjectDefaultIteration,
                f"Project '{found.name}' has no trained iteration yet: train it first.",
            )
        items: list[SuggestionView] = []
        query = SuggestionQuery(max_count=min(take, MAX_COUNT))
        while True:
            page = self.query(found.id, iteration.id, query)
            items += page.items[: take - len(items)]
            if len(items) >= take or page.continuation is None:
                return iteration, SuggestionPage(items, page.continuation, page.session, page.total)
            query = SuggestionQuery(
                max_count=query.max_count, continuation=page.continuation, session=page.session
            )

    def counts(
        self, project_id: str, iteration_id: str, *, tag_ids: Sequence[str], threshold: float | None
    ) -> dict[str, int]:
        """Per tag (every tag of the iteration by default): how many untagged images it is suggested for."""
        _check_threshold(threshold)
        iteration = self._trained_iteration(project_id, iteration_id)
        self._check_tags(project_id, iteration.id, tag_ids)
        with self.db() as session:
            trained = [t.tag_id for t in iteration_repo.tags(session, iteration_id=iteration.id)]
        counts = dict.fromkeys(tag_ids or trained, 0)
        multiclass = _is_multiclass(iteration)
        for view in self._untagged(project_id, iteration):
            for tag_id in suggested_tags(
                view.suggestion.predictions, threshold or 0.0, multiclass=multiclass
            ):
                if tag_id in counts:
                    counts[tag_id] += 1
        return counts

    # --- checks --------------------------------------------------------------------------------

    def _trained_iteration(self, project_id: str, iteration_id: str) -> Iteration:
        with self.db() as session:
            require_project(session, project_id)
            iteration = require_iteration(session, project_id, iteration_id)
        require_trained(iteration)
        if iteration.model_key is None:
            raise BadRequest(ErrorCode.BadRequestIterationIsNotTrained, "The iteration has no model.")
        return iteration

    def _check_tags(self, project_id: str, iteration_id: str, tag_ids: Sequence[str]) -> None:
        if not tag_ids:
            return
        with self.db() as session:
            known = set(tag_repo.by_ids(session, project_id=project_id, tag_ids=tag_ids))
            known |= {t.tag_id for t in iteration_repo.tags(session, iteration_id=iteration_id)}
        missing = sorted(set(tag_ids) - known)
        if missing:
            raise NotFound(ErrorCode.NotFoundTag, f"Tag(s) {', '.join(missing)} not found in this project.")

    @staticmethod
    def _session_id(iteration_id: str, query: SuggestionQuery) -> str:
        text = f"{iteration_id}|{','.join(sorted(query.tag_ids))}|{query.threshold!r}|{query.sort_by}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    # --- computing and caching -----------------------------------------------------------------

    def _untagged(self, project_id: str, iteration: Iteration) -> list[SuggestionView]:
        """Every untagged image of the project with its suggestion, computing those not cached."""
        with self.db() as session:
            missing = suggestion_repo.untagged_missing(
                session, project_id=project_id, iteration_id=iteration.id
            )
        if missing:
            self._ensure(iteration, missing)
        with self.db() as session:
            rows = suggestion_repo.untagged(session, project_id=project_id, iteration_id=iteration.id)
        return [SuggestionView(s, i) for s, i in rows]

    def _ensure(self, iteration: Iteration, images: Sequence[Image]) -> dict[str, Suggestion]:
        """The cached suggestions of ``images``, computing (and storing) those not cached yet."""
        with self._lock:
            with self.db() as session:
                cached = suggestion_repo.by_images(
                    session, iteration_id=iteration.id, image_ids=[i.id for i in images]
                )
                tags = iteration_repo.tags(session, iteration_id=iteration.id)
            todo = [i for i in images if i.id not in cached]
            if todo:
                log.info("Computing suggestions of iteration %s for %d images", iteration.id, len(todo))
                model = self.models.get(iteration.model_key or "")
                for start in range(0, len(todo), BATCH):
                    rows = self._compute(iteration, model, tags, todo[start : start + BATCH])
                    self._store(iteration.project_id, rows)
                    cached.update({r.image_id: r for r in rows})
        return cached

    def _compute(
        self, iteration: Iteration, model: OnnxModel, tags: list[IterationTag], images: Sequence[Image]
    ) -> list[Suggestion]:
        decoded, kept = [], []
        for image in images:
            try:
                data = self.files.original(image.content_hash)
            except FileNotFoundError:
                continue  # deleted meanwhile
            decoded.append(decode_rgb(data, at_least=model.input_size))
            kept.append(image)
        if not kept:
            return []
        by_id = {t.tag_id: t for t in tags}
        if domains.get_domain(iteration.domain_id).type == domains.OBJECT_DETECTION:
            results = _detections(model, decoded, by_id)
        else:
            results = _classifications(model, decoded, by_id, multilabel=not _is_multiclass(iteration))
        now = utcnow()
        return [
            Suggestion(
                iteration_id=iteration.id, image_id=image.id, uncertainty=u, predictions=p, created=now
            )
            for image, (u, p) in zip(kept, results, strict=True)
        ]

    def _store(self, project_id: str, rows: list[Suggestion]) -> None:
        if not rows:
            return
        ids = [r.image_id for r in rows]
        for attempt in range(2):
            try:
                with transaction(self.db) as session:
                    # An image deleted while its suggestion was computed has nothing to attach to.
                    alive = image_repo.by_ids(session, project_id=project_id, image_ids=ids)
                    suggestion_repo.add(session, rows=[r for r in rows if r.image_id in alive])
                return
            except IntegrityError:
                # Another process stored some of them first; the second pass skips those.
                if attempt:
                    raise


def _is_multiclass(iteration: Iteration) -> bool:
    return iteration.classification_type != "Multilabel"


def _prediction(tag: IterationTag, probability: float) -> dict[str, Any]:
    return {"tagId": tag.tag_id, "tagName": tag.name, "tagType": tag.type, "probability": probability}


def _classifications(
    model: OnnxModel, images: list[Any], tags: dict[str, IterationTag], *, multilabel: bool
) -> list[tuple[float, list[dict[str, Any]]]]:
    probabilities = model.classify(images)
    uncertainty = (
        multilabel_uncertainty(probabilities) if multilabel else multiclass_uncertainty(probabilities)
    )
    results = []
    for row, u in zip(probabilities, uncertainty, strict=True):
        predictions = [_prediction(tags[t], float(p)) for t, p in zip(model.labels, row, strict=True)]
        predictions.sort(key=lambda p: -p["probability"])
        results.append((float(u), predictions))
    return results


def _detections(
    model: OnnxModel, images: list[Any], tags: dict[str, IterationTag]
) -> list[tuple[float, list[dict[str, Any]]]]:
    out = model.run(images)
    results = []
    for boxes, scores, classes in zip(out["boxes"], out["scores"], out["classes"], strict=True):
        scores = np.asarray(scores)
        u = detection_uncertainty(scores[scores >= MIN_BOX_SCORE])
        predictions = []
        for box, score, cls in zip(boxes, scores, classes, strict=True):
            if score < MIN_SUGGESTED_BOX:
                continue
            left, top, width, height = (float(v) for v in box)
            predictions.append(
                {
                    **_prediction(tags[model.labels[int(cls)]], float(score)),
                    "boundingBox": {"left": left, "top": top, "width": width, "height": height},
                }
            )
        predictions.sort(key=lambda p: -p["probability"])
        results.append((u, predictions[:MAX_SUGGESTED_BOXES]))
    return results
