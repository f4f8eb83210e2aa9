"""The interval algebra, checked by hand at its edges and against a minute grid at random."""

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from monitoring.service.intervals import (
    Interval,
    clip,
    covers,
    difference,
    intersection,
    normalize,
    total,
    union,
)

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def iv(a: int, b: int) -> Interval:
    return Interval(at(a), at(b))


def test_touching_intervals_merge_and_overlaps_count_once():
    assert normalize([iv(10, 20), iv(0, 10), iv(15, 30), iv(40, 40)]) == [iv(0, 30)]
    assert total([iv(0, 10), iv(5, 15)]) == timedelta(minutes=15)


def test_half_open_ends_do_not_overlap():
    assert intersection([iv(0, 10)], [iv(10, 20)]) == []
    assert difference([iv(0, 20)], [iv(10, 20)]) == [iv(0, 10)]
    assert covers([iv(0, 10)], at(0)) and not covers([iv(0, 10)], at(10))


def test_difference_punches_holes():
    assert difference([iv(0, 100)], [iv(10, 20), iv(30, 40), iv(95, 120)]) == [
        iv(0, 10),
        iv(20, 30),
        iv(40, 95),
    ]
    assert difference([iv(0, 10)], [iv(-5, 15)]) == []


def test_clip_to_a_window():
    assert clip([iv(-10, 5), iv(50, 70)], iv(0, 60)) == [iv(0, 5), iv(50, 60)]


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        Interval(datetime(2027, 1, 1), datetime(2027, 1, 2))


def _grid(intervals: list[Interval]) -> set[int]:
    return {
        m
        for i in intervals
        for m in range(
            int((i.start - T0).total_seconds() // 60), int((i.end - T0).total_seconds() // 60)
        )
    }


def _random_set(rng: random.Random) -> list[Interval]:
    out = []
    for _ in range(rng.randint(0, 6)):
        a = rng.randint(0, 200)
        out.append(iv(a, a + rng.randint(0, 40)))
    return out


@pytest.mark.parametrize("seed", range(300))
def test_operations_agree_with_a_minute_grid(seed):
    rng = random.Random(seed)
    a, b = _random_set(rng), _random_set(rng)
    ga, gb = _grid(a), _grid(b)
    assert _grid(union(a, b)) == ga | gb
    assert _grid(intersection(a, b)) == ga & gb
    assert _grid(difference(a, b)) == ga - gb
    assert total(a) == timedelta(minutes=len(ga))
    for result in (union(a, b), intersection(a, b), difference(a, b)):
        # Normalized: sorted, non-empty, neither overlapping nor touching.
        assert all(i.start < i.end for i in result)
        assert all(x.end < y.start for x, y in itertools.pairwise(result))
