"""sipp as the far end of real SIP calls on loopback: a UAS playing a scenario file, started
on free ports, bounded in time and always killed (tests/sip, bench/probes.py, and the call
handling's and certification's tests use it)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
LOOPBACK = "127.0.0.1"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def free_udp_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _udp_port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def scenario(name: str) -> Path:
    """A scenario under tests/sip/scenarios, by file name with or without `.xml`."""
    path = SCENARIOS / (name if name.endswith(".xml") else f"{name}.xml")
    if not path.exists():
        raise FileNotFoundError(path)
    return path


@dataclass(frozen=True)
class SippPeer:
    host: str
    port: int
    media_port: int
    log_dir: Path
    process: subprocess.Popen[bytes]

    def uri(self, user: str = "site") -> str:
        return f"sip:{user}@{self.host}:{self.port}"

    def log(self) -> str:
        """What sipp wrote (screen, errors), for assertion messages."""
        parts = []
        for path in sorted(self.log_dir.glob("*")):
            if path.is_file():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


@contextmanager
def sipp_uas(
    scenario_file: str | Path,
    *,
    pause_ms: int = 0,
    keys: Mapping[str, str] | None = None,
    fill: Mapping[str, str] | None = None,
    rtp_echo: bool = True,
    max_seconds: float = 120,
    extra_args: tuple[str, ...] = (),
) -> Iterator[SippPeer]:
    """Run `sipp` as a UAS with `scenario_file` (a path, or a name under scenarios/) on a
    free loopback port. `pause_ms` is sipp's -d (the scenario's bare <pause/>), `keys` its
    `-key NAME VALUE` pairs; `fill` replaces `@NAME@` in a copy of the scenario (for what
    sipp checks at load time, like reject.xml's status line). RTP is echoed back from
    the media port so a caller sees media. sipp quits by itself after `max_seconds`, and is
    killed when the block ends, whatever happens in it."""
    path = (
        Path(scenario_file) if Path(scenario_file).is_absolute() else scenario(str(scenario_file))
    )
    log_dir = Path(tempfile.mkdtemp(prefix="sipp-"))
    if fill:
        text = path.read_text()
        for name, value in fill.items():
            text = text.replace(f"@{name}@", value)
        path = log_dir / path.name
        path.write_text(text)
    for _attempt in range(5):  # another process may take the port between probe and bind
        port, media_port = free_udp_port(), free_udp_port()
        if port == media_port:
            continue
        args = [
            SIPP, "-sf", str(path),
            "-i", LOOPBACK, "-p", str(port), "-t", "u1",
            "-mi", LOOPBACK, "-mp", str(media_port),
            "-d", str(pause_ms),
            "-nostdin", "-timeout", f"{int(max_seconds)}s",
            "-trace_err", "-error_file", str(log_dir / "errors.log"),
            "-trace_screen", "-screen_file", str(log_dir / "screen.log"),
            *(["-rtp_echo"] if rtp_echo else []),
            *[item for name, value in (keys or {}).items() for item in ("-key", name, value)],
            *extra_args,
        ]  # fmt: skip
        out = (log_dir / "stdout.log").open("wb")
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=log_dir,
        )  # fmt: skip
        out.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process.poll() is None:
            if _udp_port_taken(LOOPBACK, port):
                break
            time.sleep(0.01)
        if process.poll() is None and _udp_port_taken(LOOPBACK, port):
            break
        _stop(process)
    else:
        raise RuntimeError(f"sipp did not start: {(log_dir / 'stdout.log').read_text()}")
    peer = SippPeer(LOOPBACK, port, media_port, log_dir, process)
    try:
        yield peer
    finally:
        _stop(process)
        shutil.rmtree(log_dir, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@dataclass(frozen=True)
class UacRun:
    calls: int
    successful: int
    failed: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.successful / self.seconds if self.seconds else 0.0


def run_uac(
    target: SippPeer,
    *,
    calls: int,
    rate: float,
    limit: int,
    max_seconds: float = 120,
) -> UacRun:
    """sipp's own UAC (its built-in `uac` scenario) placing `calls` calls at `rate` per second,
    at most `limit` at once, against `target`: the baseline a SIP stack can reach on this box."""
    port = free_udp_port()
    with tempfile.TemporaryDirectory(prefix="sipp-uac-") as tmp:
        args = [
            SIPP, f"{target.host}:{target.port}", "-sn", "uac",
            "-i", LOOPBACK, "-p", str(port), "-t", "u1",
            "-mi", LOOPBACK, "-mp", str(free_udp_port()),
            "-m", str(calls), "-r", str(rate), "-l", str(limit), "-d", "0",
            "-nostdin", "-timeout", f"{int(max_seconds)}s",
            "-trace_screen", "-screen_file", f"{tmp}/screen.log",
        ]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(
            args, capture_output=True, timeout=max_seconds + 30, cwd=tmp,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        seconds = time.monotonic() - started
        screen = Path(f"{tmp}/screen.log").read_text(errors="replace")
    successful = _last_count(screen, "Successful call")
    failed = _last_count(screen, "Failed call")
    if successful is None:
        raise RuntimeError(f"sipp uac gave no statistics (rc {done.returncode}): {screen[-2000:]}")
    return UacRun(calls, successful, failed or 0, seconds)


def _last_count(screen: str, label: str) -> int | None:
    # The statistics screen prints "Successful call   |  <periodic>  |  <cumulative>".
    found = re.findall(rf"{label}\s*\|\s*(\d+)\s*\|\s*(\d+)", screen)
    return int(found[-1][1]) if found else None
