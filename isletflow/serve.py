"""Start a local Prefect server, the process work pool and a worker, and deploy ``prefect.yaml``
so the nightly schedule shows in the UI and a run can be started by hand ("Run" → form), with
the automations that notify a person of a failed or late night (isletflow/alerts.py).

Stopping: Ctrl-C (SIGINT), SIGTERM (systemd, ``docker stop``) and SIGHUP (the terminal closed)
all stop the worker, then the server, each with its whole process group and every process it
had started (the worker's flow-run processes run in sessions of their own), and the command
exits: 0 after Ctrl-C, 128 + the signal's number after SIGTERM (143) or SIGHUP (129), the
status a POSIX shell gives a command ended by that signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

POOL = "isletflow-process"
PROJECT = Path(__file__).resolve().parents[1]
# The server keeps deployment concurrency leases on disk (PREFECT_HOME/concurrency_leases), not
# in its memory (Prefect 3.9's default). When a reboot kills the server, the worker and a
# running flow at once, the restarted server still has that run's lease and frees its slot
# when the lease expires (300 s after the flow last renewed it): measured, the next run of the
# deployment was running 5 min 23 s after the kill. With leases in memory the slot stayed taken
# (still, 12 min later) and every later run waited in AwaitingConcurrencySlot until the dead
# run was set to Crashed by hand. The environment may name another storage (prefect-redis).
LEASES_ON_DISK = {"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE":
                  "prefect.server.concurrency.lease_storage.filesystem"}


def prefect_cli(*args: str, env: dict[str, str], check: bool = True,
                **kwargs) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).with_name("prefect"))
    return subprocess.run([exe, *args], env=env, cwd=PROJECT, check=check, text=True,
                          capture_output=True, **kwargs)


def deploy(env: dict[str, str]) -> None:
    """Create the process work pool (if missing) and register every deployment of
    prefect.yaml with the API in ``env["PREFECT_API_URL"]``."""
    if prefect_cli("work-pool", "inspect", POOL, env=env, check=False).returncode != 0:
        prefect_cli("work-pool", "create", POOL, "--type", "process", env=env)
    # prefect.yaml's pull step names {{ $PWD }}: the project, wherever the caller stands
    out = prefect_cli("--no-prompt", "deploy", "--all", env={**env, "PWD": str(PROJECT)},
                      check=False)
    if out.returncode != 0:
        raise RuntimeError(f"prefect deploy failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")


def wait_healthy(api_url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"the Prefect server at {api_url} did not answer within {timeout_s:.0f} s")


class AlertsNotSet(Exception):
    """The alert automations could not be set up as the settings ask (:func:`serve` exits 2:
    a night must not go unwatched because an alert silently failed to be created)."""


class Stopped(Exception):
    """Raised in the main thread by the SIGTERM / SIGHUP handler of :func:`serve`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
WORKER_GRACE_S = 5.0  # docker stop sends SIGKILL after 10 s: both graces fit within it
SERVER_GRACE_S = 3.0


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat, the start time after boot in clock ticks (proc(5)): with
    the pid it names one process even if the pid is reused. None if gone or without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def descendants(root: int) -> list[tuple[int, str | None]]:
    """Every process below ``root`` (children, their children, ...) as (pid, start time), from
    the parent pids in /proc (Linux) or, where there is no /proc, ``ps -A -o pid=,ppid=``."""
    children: dict[int, list[int]] = {}
    if Path("/proc/self/stat").exists():
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    else:
        out = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            pid, ppid = map(int, line.split())
            children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return [(pid, _start_time(pid)) for pid in found]


def _exists(kill, target: int) -> bool:
    """Whether ``kill(target, 0)`` finds it: a pid with ``os.kill``, a group with ``os.killpg``."""
    try:
        kill(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _alive(pid: int, started: str | None) -> bool:
    return _start_time(pid) == started if started is not None else _exists(os.kill, pid)


def stop_tree(proc: subprocess.Popen, grace_s: float, hurry: list[int]) -> None:
    """End ``proc``, started with ``start_new_session=True`` (its pid is its process group), with
    its group and every process below it in other groups (a process worker's flow runs lead
    sessions of their own): SIGTERM once to each, up to ``grace_s`` to exit (cut short once
    ``hurry`` is non-empty: a second Ctrl-C or SIGTERM), then SIGKILL. Sent once, as Prefect's
    worker takes a second SIGTERM as SIGKILL and uvicorn as a forced exit. Descendants are
    listed before signalling: once their parent has gone they are re-parented elsewhere."""
    pgid = proc.pid
    outside = []  # below proc but in another process group: not reached by killpg(pgid)
    for pid, started in descendants(proc.pid):
        try:
            if os.getpgid(pid) != pgid:
                outside.append((pid, started))
        except ProcessLookupError:
            pass

    def send(sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for pid, started in outside:
            if _alive(pid, started):
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def gone() -> bool:
        return (proc.poll() is not None and not _exists(os.killpg, pgid)
                and not any(_alive(pid, started) for pid, started in outside))

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not gone() and not hurry and time.monotonic() < deadline:
        time.sleep(0.1)
    if not gone():
        send(signal.SIGKILL)
    proc.wait()


def serve(port: int, say=print) -> int:
    """Run server + worker until Ctrl-C, SIGTERM or SIGHUP (or one of them stops), stop both
    (see the module docstring) and return the exit code: 0 after Ctrl-C, 128 + the signal's
    number after SIGTERM or SIGHUP, 1 if the server or the worker stopped by itself, 2 if an
    ``ISLETFLOW_ALERT_*`` setting is not valid (before anything starts). After the deploy the
    alert automations are created or updated (:func:`isletflow.alerts.sync_alerts`). The
    server and the worker log through Prefect's default logging configuration plus a filter
    that hides the webhook URL and the SMTP password
    (:func:`isletflow.alerts.redacting_logging_env`)."""
    from isletflow.alerts import AlertSettings, redacting_logging_env, sync_alerts

    api = f"http://127.0.0.1:{port}/api"
    env = {**LEASES_ON_DISK, **os.environ, "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    exe = str(Path(sys.executable).with_name("prefect"))
    try:
        AlertSettings.from_env(env)  # a mistake in the alert settings stops here, not at 02:30
    except ValueError as err:
        say(f"alerts: {err}; nothing started")
        return 2
    env.update(redacting_logging_env(say))  # the webhook URL, SMTP password out of their logs

    def on_signal(signum, _frame):
        raise Stopped(signum)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, *STOP_SIGNALS)}
    server = worker = None
    code = 1
    try:
        for s in STOP_SIGNALS:
            signal.signal(s, on_signal)
        # Each child leads a session of its own, so a terminal's Ctrl-C reaches only this
        # process, which stops the worker first (it reports to the server), then the server.
        server = subprocess.Popen([exe, "server", "start", "--host", "127.0.0.1", "--port",
                                   str(port)], env=env, cwd=PROJECT, start_new_session=True)
        say(f"starting the Prefect server on {api} ...")
        wait_healthy(api)
        deploy(env)
        say(f"deployed prefect.yaml (work pool {POOL})")
        try:  # the automations that notify a person (isletflow/alerts.py)
            say(sync_alerts(env))
        except ValueError as err:  # e.g. the server cannot load the e-mail block
            raise AlertsNotSet(str(err)) from None
        say("starting a worker")
        worker = subprocess.Popen([exe, "worker", "start", "--pool", POOL], env=env,
                                  cwd=PROJECT, start_new_session=True)
        say(f"UI: http://127.0.0.1:{port}/deployments — open 'nightly', press Run → Custom "
            "run to set the landing folder, warehouse, as-of date, sites. Ctrl-C stops.")
        while server.poll() is None and worker.poll() is None:
            time.sleep(1)
        say(f"the Prefect {'server' if server.poll() is not None else 'worker'} stopped by "
            "itself; stopping the rest")
    except KeyboardInterrupt:
        code = 0
        say("Ctrl-C: stopping the Prefect worker and server ...")
    except Stopped as stop:
        code = 128 + stop.signum
        say(f"{stop}: stopping the Prefect worker and server ...")
    except AlertsNotSet as err:
        code = 2
        say(f"alerts: {err}; stopping the Prefect server ...")
    finally:
        hurry: list[int] = []  # a further signal while stopping: SIGKILL without waiting
        for s in previous:
            signal.signal(s, lambda signum, _frame: hurry.append(signum))
        try:
            if worker is not None:
                stop_tree(worker, WORKER_GRACE_S, hurry)
            if server is not None:
                stop_tree(server, SERVER_GRACE_S, hurry)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    say(f"stopped (exit code {code})")
    return code
