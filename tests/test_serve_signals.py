"""`isletflow serve` stopped as systemd and `docker stop` stop it (SIGTERM): the real command on a
free port, its Prefect server healthy and its worker started, then SIGTERM. The command must
exit with 143 (128 + SIGTERM's number 15, as a POSIX shell reports a command ended by SIGTERM)
and leave none of the processes it started alive."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from isletflow.serve import PROJECT, descendants

pytestmark = pytest.mark.e2e
ISLETFLOW = str(Path(sys.executable).with_name("isletflow"))
START_TIMEOUT_S = 300  # server start with a fresh database + `prefect deploy` + worker start
STOP_TIMEOUT_S = 15  # the worker's and the server's grace (5 + 3 s) and some slack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (proc(5)): [0] state, [1] ppid, [2] pgid, [19] start time;
    None once the process is gone or only a zombie waiting to be reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(seen: dict[int, str]) -> dict[int, str]:
    """The processes of ``seen`` (pid -> start time) still running (same pid, same start)."""
    return {pid: started for pid, started in seen.items()
            if (st := _stat(pid)) is not None and st[19] == started}


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigterm_stops_server_and_worker_and_exits_143(tmp_path):
    t0 = time.monotonic()
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PYTHONUNBUFFERED": "1"}  # the worker's "started!" line arrives when printed
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([ISLETFLOW, "serve", "--port", str(port)], env=env, cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen: dict[int, str] = {}  # every process ever found below `isletflow serve`: pid -> start

    def look() -> None:
        seen.update((pid, started) for pid, started in descendants(proc.pid) if started)

    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any("Worker 'ProcessWorker" in ln and "started!" in ln for ln in list(lines)):
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "".join(lines)[-3000:]
            look()
            time.sleep(0.5)
        look()
        assert _healthy(port)
        cmds = [_cmdline(pid) for pid in _alive(seen)]
        assert sum("prefect server start" in c and f"--port {port}" in c for c in cmds) == 1, cmds
        assert sum("prefect worker start --pool isletflow-process" in c for c in cmds) == 1, cmds
        started_s = time.monotonic() - t0

        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 128 + signal.SIGTERM.value
        stop_s = time.monotonic() - t1
        reader.join(timeout=5)  # EOF: nothing holds the output pipe any more
        out = "".join(lines)
        assert not reader.is_alive(), out[-3000:]
        assert "SIGTERM: stopping the Prefect worker and server" in out
        assert "stopped (exit code 143)" in out
        assert _alive(seen) == {}, [(pid, _cmdline(pid)) for pid in _alive(seen)]
        assert not _healthy(port)
        print(f"serve ready in {started_s:.1f} s, stopped by SIGTERM in {stop_s:.2f} s, "
              f"{len(seen)} child processes, none left")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _alive(seen):  # only after a failure: nothing of the test stays behind
            st = _stat(pid)
            try:
                if st is not None and st[2] == str(pid):  # a group leader: all its group
                    os.killpg(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
