"""Start a local Prefect server, the process work pool and a worker, and deploy ``prefect.yaml``
so the nightly schedule shows in the UI and a run can be started by hand ("Run" → form)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

POOL = "isletflow-process"
PROJECT = Path(__file__).resolve().parents[1]


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
    out = prefect_cli("--no-prompt", "deploy", "--all", env=env, check=False)
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


def serve(port: int, say=print) -> int:
    """Run server + worker until Ctrl-C (or one of them stops); returns an exit code."""
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    exe = str(Path(sys.executable).with_name("prefect"))
    server = subprocess.Popen([exe, "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, cwd=PROJECT)
    procs = [server]
    try:
        say(f"starting the Prefect server on {api} ...")
        wait_healthy(api)
        deploy(env)
        say(f"deployed prefect.yaml (work pool {POOL}); starting a worker")
        procs.append(subprocess.Popen([exe, "worker", "start", "--pool", POOL], env=env,
                                      cwd=PROJECT))
        say(f"UI: http://127.0.0.1:{port}/deployments — open 'nightly', press Run → Custom "
            "run to set the landing folder, warehouse, as-of date, sites. Ctrl-C stops.")
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
