"""Helpers shared by the benchmark scripts: ports, gunicorn, CPU accounting, percentiles."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    return f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, {platform.system()}"


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(round(pct / 100 * len(sorted_values) + 0.4999)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def flask_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app app ARGS` in the project folder, as an operator would."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`flask --app app {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def process_tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by a process and each of its direct children, by pid."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(entry))
    used = {}
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[p] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return used


def cpu_of_command(name: str) -> float:
    """CPU seconds used so far by all processes whose command name is `name` (e.g. the PostgreSQL server)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
            if comm == name:
                fields = rest.split()
                total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used so far (from /proc/stat), to spot other load."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def self_cpu() -> float:
    """CPU seconds (user + system) used so far by this process."""
    t = os.times()
    return t.user + t.system


class Gunicorn:
    """gunicorn from the venv serving `module:app` on a free loopback port; a context manager."""

    def __init__(self, target: str, env: dict, workers: int, threads: int, log_path: Path):
        self.target, self.env, self.workers, self.threads = target, env, workers, threads
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads", str(self.threads),
                "--bind", f"127.0.0.1:{self.port}", "--pythonpath", str(BENCH), "--log-level", "warning",
                self.target]

    def __enter__(self) -> "Gunicorn":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.__exit__()
            raise RuntimeError(f"gunicorn did not start listening within 30 s; see {self.log_path}")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def cpu(self) -> dict[int, float]:
        """CPU seconds used so far by gunicorn's master and each worker, by pid."""
        return process_tree_cpu(self.proc.pid)
