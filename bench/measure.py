"""Run one command as a child process and measure it: wall, CPU, peak RSS, exit code.

CPU comes from ``os.wait4``: user + sys of the child *and of every descendant it waited for*, which
is what makes Ansible's forks (and the module processes they spawn) count. ``ru_maxrss`` is the peak of
the single largest process only, so a sampler also sums RSS over the live process tree every
``interval`` seconds; that sum counts pages shared between forks more than once (an upper bound).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import psutil

SAMPLE_INTERVAL_S = 0.2


@dataclass(frozen=True, slots=True)
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # ru_maxrss: the largest single process
    peak_tree_rss_mb: float  # sampled: the largest sum over the process tree
    exit_code: int
    timed_out: bool = False

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def tree_rss(root: psutil.Process) -> int:
    """RSS of ``root`` plus all its live descendants, in bytes (processes may vanish meanwhile)."""
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def kill_tree(root: psutil.Process) -> None:
    """SIGKILL the descendants first (Ansible's forks), then the root, which ``wait4`` then reaps."""
    try:
        children = root.children(recursive=True)
    except psutil.Error:
        children = []
    for process in [*children, root]:
        try:
            process.kill()
        except psutil.Error:
            continue


class _TreeSampler(threading.Thread):
    """Samples the tree until told to stop, and kills it past ``deadline``; the main thread reaps it."""

    def __init__(self, pid: int, interval: float, deadline: float | None) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.deadline = pid, interval, deadline
        self.peak = 0
        self.timed_out = False
        self.done = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss(root))
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.timed_out = True
                kill_tree(root)
                return
            self.done.wait(self.interval)


def measure(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: IO[bytes] | int = subprocess.DEVNULL,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
    interval: float = SAMPLE_INTERVAL_S,
    timeout: float | None = None,
) -> Measurement:
    """Start ``command``, sample its tree while it runs, reap it with wait4 and return the figures.

    Past ``timeout`` seconds the whole tree is killed: a hung peer must not hang the benchmark."""
    started = time.perf_counter()
    process = subprocess.Popen(list(command), env=dict(env) if env is not None else None, cwd=cwd,
                               stdout=stdout, stderr=stderr)  # fmt: skip
    deadline = time.monotonic() + timeout if timeout is not None else None
    sampler = _TreeSampler(process.pid, interval, deadline)
    sampler.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return Measurement(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        peak_tree_rss_mb=max(sampler.peak, usage.ru_maxrss * 1024) / 2**20,
        exit_code=process.returncode,
        timed_out=sampler.timed_out,
    )
