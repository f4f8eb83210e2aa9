"""Interval algebra over half-open [start, end) UTC instants: the arithmetic behind uptime."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end): the start belongs to it, the end does not, so neighbours never overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("intervals hold aware instants only")

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    @property
    def length(self) -> timedelta:
        return max(self.end - self.start, timedelta(0))


# A normalized set: sorted, non-empty, pairwise disjoint and not touching.
IntervalSet = list[Interval]


def normalize(intervals: Iterable[Interval]) -> IntervalSet:
    """The union of any intervals as a normalized set (touching neighbours merged)."""
    merged: IntervalSet = []
    for interval in sorted(i for i in intervals if not i.empty):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def union(*sets: Iterable[Interval]) -> IntervalSet:
    return normalize(interval for group in sets for interval in group)


def intersection(a: Iterable[Interval], b: Iterable[Interval]) -> IntervalSet:
    """Points in both; a linear sweep over the two normalized sets."""
    left, right = normalize(a), normalize(b)
    out: IntervalSet = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            out.append(Interval(start, end))
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return out


def difference(a: Iterable[Interval], b: Iterable[Interval]) -> IntervalSet:
    """Points of `a` not in `b`."""
    out: IntervalSet = []
    cuts = normalize(b)
    j = 0
    for interval in normalize(a):
        start = interval.start
        while j < len(cuts) and cuts[j].end <= start:
            j += 1
        k = j
        while k < len(cuts) and cuts[k].start < interval.end:
            if cuts[k].start > start:
                out.append(Interval(start, cuts[k].start))
            start = max(start, cuts[k].end)
            k += 1
        if start < interval.end:
            out.append(Interval(start, interval.end))
    return out


def clip(a: Iterable[Interval], window: Interval) -> IntervalSet:
    return intersection(a, [window])


def total(a: Iterable[Interval]) -> timedelta:
    """The measure of the union (overlaps counted once)."""
    return sum((i.length for i in normalize(a)), timedelta(0))


def covers(a: Sequence[Interval], instant: datetime) -> bool:
    return any(i.start <= instant < i.end for i in a)
