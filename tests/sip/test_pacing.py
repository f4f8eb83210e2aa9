"""The dial pacing rule on its own (no SIP): a token bucket lets `burst` INVITEs go at once
and then `rate` a second, which is what keeps pjsua2's socket table from running out."""

from bridge.engine.endpoint import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(10, 4, clock)
    assert [bucket.take() for _ in range(5)] == [True, True, True, True, False]
    clock.now += 0.05  # half a token
    assert bucket.take() is False
    clock.now += 0.06
    assert bucket.take() is True and bucket.take() is False


def test_an_idle_bucket_never_holds_more_than_the_burst():
    clock = Clock()
    bucket = TokenBucket(10, 4, clock)
    clock.now += 3600
    assert sum(bucket.take() for _ in range(10)) == 4


def test_over_a_long_run_the_rate_holds():
    clock = Clock()
    bucket = TokenBucket(40, 4, clock)
    taken = 0
    for _ in range(10_000):  # 10 s in 1 ms steps, always asking
        clock.now += 0.001
        taken += bucket.take()
    assert 400 <= taken <= 404
