"""Project contracts: the pinned Prefect stack and the deployment file."""

from __future__ import annotations

import inspect
import re
from importlib import metadata

import yaml

from flows.nightly import nightly
from isletflow.config import PROJECT_ROOT


def locked_version(package: str) -> str:
    lock = (PROJECT_ROOT / "uv.lock").read_text()
    m = re.search(rf'\[\[package\]\]\nname = "{re.escape(package)}"\nversion = "([^"]+)"', lock)
    assert m, package
    return m.group(1)


def test_the_environment_is_the_lock():
    # prefect breaks with unpinned fastapi releases: both come from uv.lock, and the
    # end-to-end tests run the flow under a real Prefect API server on exactly these.
    for pkg in ("prefect", "fastapi", "duckdb", "polars", "pandera", "great-expectations"):
        assert metadata.version(pkg) == locked_version(pkg), pkg
    assert metadata.version("prefect").startswith("3.")


def test_prefect_yaml_nightly_deployment_matches_the_flow():
    spec = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    dep = {d["name"]: d for d in spec["deployments"]}["nightly"]
    path, func = dep["entrypoint"].split(":")
    assert (PROJECT_ROOT / path).exists() and func == nightly.fn.__name__
    sched = dep["schedules"][0]
    assert sched["cron"] == "30 2 * * *" and sched["timezone"] == "America/Toronto"
    assert set(dep["parameters"]) == set(inspect.signature(nightly.fn).parameters)


def test_one_deployment_per_trial_file_each_valid_with_its_own_warehouse():
    from isletflow.trial import check_trial

    spec = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    deps = spec["deployments"]
    trials = sorted({d["parameters"]["trial"] for d in deps})
    assert trials == ["trials/islet-101.toml", "trials/islet-301.toml"]
    for d in deps:
        assert set(d["parameters"]) == set(inspect.signature(nightly.fn).parameters), d["name"]
        assert check_trial(PROJECT_ROOT / d["parameters"]["trial"]) == [], d["name"]
    # each trial its own warehouse and landing folder (a variant of a trial's deployment,
    # nightly-dask, shares its trial's: its runs queue behind the trial's own)
    for key in ("warehouse", "landing_dir"):
        by_trial = {d["parameters"]["trial"]: set() for d in deps}
        for d in deps:
            by_trial[d["parameters"]["trial"]].add(d["parameters"][key])
        assert all(len(v) == 1 for v in by_trial.values()), key
        assert len(set().union(*by_trial.values())) == len(trials), key
