"""What a plan says about itself: progress toward its measured goals,
computed from the questionnaire scores, and what changed between versions."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from tandem.measures import instruments
from tandem.measures.models import Response
from tandem.plans.models import Comparison, Goal, Intervention, PlanVersion


@dataclass(frozen=True)
class Progress:
    instrument: str
    baseline: int
    baseline_on: datetime.date
    latest: int
    latest_on: datetime.date
    target: int
    comparison: str
    met: bool
    # How much of the way from the baseline to the target the latest score has come, 0-100.
    percent: int

    @property
    def summary(self) -> str:
        word = "below" if self.comparison == Comparison.BELOW else "at or below"
        state = "target met" if self.met else f"{self.percent}% of the way"
        return (
            f"{self.instrument} {self.baseline} on {self.baseline_on:%b} {self.baseline_on.day} → "
            f"{self.latest} on {self.latest_on:%b} {self.latest_on.day}; target {word} {self.target}: {state}"
        )


def meets(score: int, comparison: str, target: int) -> bool:
    return score < target if comparison == Comparison.BELOW else score <= target


def goal_progress(goal: Goal, responses: Sequence[Response]) -> Progress | None:
    """From the first score of the goal's questionnaire to the latest; None
    without a score (or for a goal with no questionnaire). Lower scores are
    better on every questionnaire Tandem scores toward a goal."""
    if not goal.instrument or goal.target_score is None:
        return None
    scores = sorted(
        (r for r in responses if r.instrument == goal.instrument and r.total is not None and r.completed_at),
        key=lambda r: (r.completed_at, r.pk),
    )
    if not scores:
        return None
    first, last = scores[0], scores[-1]
    assert first.total is not None and last.total is not None and first.completed_at and last.completed_at
    target = goal.target_score
    met = meets(last.total, goal.comparison, target)
    # The score that meets the target: one below it for "below".
    goal_score = target - 1 if goal.comparison == Comparison.BELOW else target
    span = first.total - goal_score
    if met:
        percent = 100
    elif span <= 0:
        percent = 0
    else:
        percent = max(0, min(99, round(100 * (first.total - last.total) / span)))
    found = instruments.all_instruments().get(goal.instrument)
    return Progress(
        instrument=found.short_name if found else goal.instrument,
        baseline=first.total,
        baseline_on=first.completed_at.date(),
        latest=last.total,
        latest_on=last.completed_at.date(),
        target=target,
        comparison=goal.comparison,
        met=met,
        percent=percent,
    )


@dataclass(frozen=True)
class Change:
    what: str  # "added", "removed", "changed"
    part: str  # "Goal", "Intervention", "Diagnosis", "Summary", "Review date"
    text: str
    details: tuple[str, ...] = ()


def _goal_fields(g: Goal) -> dict[str, str]:
    measure = f"{g.instrument} {g.get_comparison_display()} {g.target_score}" if g.instrument else "none"
    return {
        "text": g.text,
        "owner": g.get_discipline_display(),
        "target date": g.target_date.isoformat() if g.target_date else "none",
        "measure": measure,
        "status": g.get_status_display(),
    }


def _intervention_fields(i: Intervention) -> dict[str, str]:
    return {
        "text": i.text,
        "discipline": i.get_discipline_display(),
        "owner": i.owner.display_name,
        "frequency": i.frequency,
        "status": i.get_status_display(),
    }


def _compare_items(part: str, old: Sequence[Goal | Intervention], new: Sequence[Goal | Intervention]) -> list[Change]:
    def fields(item: Goal | Intervention) -> dict[str, str]:
        return _goal_fields(item) if isinstance(item, Goal) else _intervention_fields(item)

    before = {i.lineage: i for i in old}
    after = {i.lineage: i for i in new}
    changes: list[Change] = []
    for lineage, item in after.items():
        if lineage not in before:
            changes.append(Change("added", part, item.text))
            continue
        a, b = fields(before[lineage]), fields(item)
        details = tuple(f"{k}: {a[k]} → {b[k]}" for k in a if a[k] != b[k])
        if details:
            changes.append(Change("changed", part, item.text, details))
    changes += [Change("removed", part, item.text) for lineage, item in before.items() if lineage not in after]
    return changes


def diff(old: PlanVersion, new: PlanVersion) -> list[Change]:
    """What ``new`` changed from ``old`` (goals, interventions and the
    problem list, matched across versions; summary and review date)."""
    changes: list[Change] = []
    if old.summary != new.summary:
        changes.append(Change("changed", "Summary", "The summary was rewritten."))
    if old.review_on != new.review_on:
        changes.append(Change("changed", "Review date", f"{old.review_on.isoformat()} → {new.review_on.isoformat()}"))
    before = {d["code"]: d for d in old.diagnoses}
    after = {d["code"]: d for d in new.diagnoses}
    for code, d in after.items():
        if code not in before:
            changes.append(Change("added", "Diagnosis", f"{code} {d['name']}"))
        elif before[code]["status"] != d["status"]:
            changes.append(
                Change(
                    "changed",
                    "Diagnosis",
                    f"{code} {d['name']}",
                    (f"status: {before[code]['status']} → {d['status']}",),
                )
            )
    changes += [Change("removed", "Diagnosis", f"{c} {d['name']}") for c, d in before.items() if c not in after]
    changes += _compare_items("Goal", list(old.goals.all()), list(new.goals.all()))
    changes += _compare_items(
        "Intervention",
        list(old.interventions.select_related("owner")),
        list(new.interventions.select_related("owner")),
    )
    return changes
