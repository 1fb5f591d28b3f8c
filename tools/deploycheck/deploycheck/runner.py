"""Runs every deploy check and prints one line per check: "ok" or "FAIL"
with the check's name, and what a failed check said, indented below it.
Exits non-zero when any check failed, after running all of them.

The external linters and validators run as subprocesses; the checks of our
own (drift, engine, build context, edge image, hardening, redis, metrics)
are functions of a Deployment that return their problems."""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from . import context, drift, edge, engine, hardening, metrics, redis_acl
from .deployment import Deployment

OVERLAYS = ("dev", "prod")
# A validator's output line that counts as a failure even when it exits 0
# (kubernetes-validate reports a removed apiVersion only as a WARN).
WARNING = re.compile(r"(^|[^A-Za-z])(WARN|WARNING|ERROR)([^A-Za-z]|$)", re.MULTILINE)


# Our own checks: (id, the name its line shows, the function).
OWN = [
    (
        "drift",
        "drift: VIBES_* names, ports and edge variables vs config/default.toml and render-edge-config",
        drift.check,
    ),
    ("engine-image", "engine: every SRS image is ossrs/srs:v{srs_version} (scripts/srs-pin)", engine.check_image),
    (
        "engine-config",
        "engine: generated srs.conf, the same in compose and k8s, matches their ports, volumes and hooks",
        engine.check_config,
    ),
    ("build-context", "build context: Dockerfile COPY sources vs .dockerignore", context.check),
    (
        "edge-image",
        "edge image: the render script, template and Lua code compose and k8s use are in it, not hidden by mounts",
        edge.check,
    ),
    (
        "hardening",
        "hardening: non-root, read-only root fs, no capabilities, no SA token; "
        "the engine writes only srs.conf's folders",
        hardening.check,
    ),
    (
        "redis",
        "redis: auth required, every Redis URL with its own user, each user's ACL = what its code sends "
        "(compose = k8s)",
        redis_acl.check,
    ),
    (
        "metrics",
        "metrics: own port per service, scraped there, never published, reachable from the monitoring namespaces only",
        metrics.check,
    ),
]


@dataclass
class Outcome:
    ok: bool
    output: str = ""


@dataclass
class Check:
    id: str
    name: str
    run: Callable[[], Outcome]


def command(*args: str, env: dict[str, str] | None = None, cwd: pathlib.Path | None = None) -> Outcome:
    """A command passes when it exits 0."""
    try:
        done = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError as error:
        return Outcome(False, f"{args[0]}: not found ({error})")
    return Outcome(done.returncode == 0, done.stdout)


def no_warnings(outcome: Outcome) -> Outcome:
    """Fails also when any line says WARNING/WARN/ERROR."""
    return Outcome(outcome.ok and not WARNING.search(outcome.output), outcome.output)


def problems_check(check: Callable[[Deployment], list[str]], deploy: Deployment) -> Callable[[], Outcome]:
    """One of our own checks: passes when it finds no problem. A crash is a
    failure too, with its traceback as the output."""

    def run() -> Outcome:
        try:
            problems = check(deploy)
        except Exception:  # noqa: BLE001 - any crash fails the check, shown
            return Outcome(False, traceback.format_exc())
        return Outcome(not problems, "".join(f"{p}\n" for p in problems))

    return run


def render_overlay(root: pathlib.Path, overlay: str, out: pathlib.Path) -> Outcome:
    """`kubectl kustomize` with its default load restrictions (as `kubectl
    apply -k`, Argo CD and Flux use them); the rendering goes to `out`,
    which stays empty when it fails."""
    with out.open("w") as file:
        try:
            done = subprocess.run(
                ["kubectl", "kustomize", f"k8s/overlays/{overlay}"],
                cwd=root,
                stdout=file,
                stderr=subprocess.PIPE,
                text=True,
            )
        except FileNotFoundError as error:
            return Outcome(False, f"kubectl: not found ({error})")
    if done.returncode != 0:
        out.write_text("")
    return Outcome(done.returncode == 0, done.stderr)


def checks(root: pathlib.Path, srs_version: str, work_dir: pathlib.Path) -> list[Check]:
    rendered = {overlay: work_dir / f"{overlay}.yaml" for overlay in OVERLAYS}
    renders = {overlay: render_overlay(root, overlay, path) for overlay, path in rendered.items()}
    deploy = Deployment(root, rendered, srs_version)
    # The example env file stands in for compose/.env (which holds real secrets).
    compose_env = {**os.environ, **deploy.env_example}

    def validate_overlay(overlay: str) -> Callable[[], Outcome]:
        def run() -> Outcome:
            if not renders[overlay].ok:
                return renders[overlay]
            validated = no_warnings(
                command("kubernetes-validate", "--strict", "--quiet", str(rendered[overlay]), cwd=root)
            )
            return Outcome(validated.ok, renders[overlay].output + validated.output)

        return run

    return [
        Check(
            "shellcheck",
            "shellcheck deploy scripts",
            lambda: command("shellcheck", "-x", "scripts/install-deploy-tools", "scripts/check-deploy", cwd=root),
        ),
        Check(
            "compose",
            "docker-compose config -q (compose/compose.yaml)",
            lambda: no_warnings(
                command("docker-compose", "-f", "compose/compose.yaml", "config", "-q", env=compose_env, cwd=root)
            ),
        ),
        Check(
            "compose-schema",
            "check-jsonschema vendor.compose-spec (compose/compose.yaml)",
            lambda: command(
                "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose/compose.yaml", cwd=root
            ),
        ),
        Check("hadolint", "hadolint Dockerfile", lambda: command("hadolint", "Dockerfile", cwd=root)),
        *(
            Check(
                f"k8s-{overlay}",
                f"kustomize + kubernetes-validate --strict (k8s/overlays/{overlay})",
                validate_overlay(overlay),
            )
            for overlay in OVERLAYS
        ),
        *(Check(id, name.format(srs_version=srs_version), problems_check(check, deploy)) for id, name, check in OWN),
    ]


def run_checks(selected: list[Check], out=sys.stdout) -> int:
    """Runs them all, prints a line each; returns how many failed."""
    failures = 0
    for check in selected:
        outcome = check.run()
        if outcome.ok:
            print(f"ok    {check.name}", file=out)
        else:
            print(f"FAIL  {check.name}", file=out)
            for line in outcome.output.splitlines():
                print(f"      {line}", file=out)
            failures += 1
        out.flush()
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploycheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path.cwd(), help="the repository")
    parser.add_argument("--srs-version", required=True, help="SRS_IMAGE_VERSION of scripts/srs-pin")
    parser.add_argument("only", nargs="*", help="check ids to run (default: all; --list shows them)")
    parser.add_argument("--list", action="store_true", help="list the check ids and names")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="deploycheck.") as work_dir:
        every = checks(args.root.resolve(), args.srs_version, pathlib.Path(work_dir))
        if args.list:
            for check in every:
                print(f"{check.id:15} {check.name}")
            return 0
        unknown = set(args.only) - {check.id for check in every}
        if unknown:
            parser.error(f"unknown check ids {sorted(unknown)}; --list shows them")
        failures = run_checks([check for check in every if not args.only or check.id in args.only])
    if failures:
        print(f"{failures} check(s) failed")
        return 1
    print("all deploy checks passed")
    return 0
