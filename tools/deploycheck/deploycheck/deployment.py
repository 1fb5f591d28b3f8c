"""The deployment as the checks see it: the repository's files, compose's
compose.yaml, each k8s overlay as `kubectl kustomize` rendered it, and the
services' built-in settings. Loaded once, read by every check, never changed.

Also the few helpers several checks need to walk compose services and k8s
documents the same way."""

from __future__ import annotations

import functools
import pathlib
import posixpath
import tomllib

import yaml

# The official SRS image's working directory: srs.conf's relative paths and
# the command's `-c conf/...` are resolved against it.
SRS_HOME = "/usr/local/srs"
# The label that names a workload's app in k8s/base.
NAME_LABEL = "app.kubernetes.io/name"


class Deployment:
    """root: the repository. rendered: overlay name -> the file `kubectl
    kustomize k8s/overlays/<name>` wrote (empty or missing: not rendered)."""

    def __init__(self, root: pathlib.Path, rendered: dict[str, pathlib.Path], srs_version: str = ""):
        self.root = pathlib.Path(root)
        self.rendered = dict(rendered)
        self.srs_version = srs_version

    def text(self, path: str) -> str:
        return (self.root / path).read_text()

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    @functools.cached_property
    def compose(self) -> dict:
        return yaml.safe_load(self.text("compose/compose.yaml"))

    @functools.cached_property
    def overlays(self) -> dict[str, list[dict]]:
        """The rendered overlays' documents; one that was not rendered is absent."""
        overlays = {}
        for name, path in self.rendered.items():
            if path.exists() and path.stat().st_size:
                overlays[name] = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        return overlays

    def unrendered(self) -> list[str]:
        """One problem per overlay that has no rendering to check."""
        return [
            f"k8s overlay {name}: not rendered (see the kustomize check)"
            for name in self.rendered
            if name not in self.overlays
        ]

    @functools.cached_property
    def services(self) -> dict[str, dict]:
        """service name -> its config/default.toml."""
        return {
            path.parent.parent.name: tomllib.loads(path.read_text())
            for path in sorted(self.root.glob("services/*/config/default.toml"))
        }

    @functools.cached_property
    def env_example(self) -> dict[str, str]:
        """compose/.env.example, which stands in for compose/.env here."""
        env = {}
        for line in self.text("compose/.env.example").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip()
        return env


# ------------------------------------------------------------- compose ---
def compose_env(service: dict) -> dict:
    """A compose service's environment as a dict (it may be written as a list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


# ----------------------------------------------------------------- k8s ---
def workloads(docs):
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield doc


def pod_of(doc: dict) -> dict:
    """A workload's pod spec ({} for a document that has none)."""
    return doc.get("spec", {}).get("template", {}).get("spec", {})


def app_of(doc: dict) -> str:
    return doc["spec"]["template"]["metadata"].get("labels", {}).get(NAME_LABEL, doc["metadata"]["name"])


def containers(pod: dict) -> list[tuple[str, dict]]:
    """(kind, container) for each init container ("init") and container ("")."""
    return [("init", c) for c in pod.get("initContainers", [])] + [("", c) for c in pod.get("containers", [])]


def find(docs, kind: str, name: str) -> dict | None:
    return next((d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name), None)


def image_name(ref: str) -> str:
    """ossrs/srs:v6@sha256:... -> srs."""
    return ref.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def in_srs_home(path: str) -> str:
    return posixpath.normpath(posixpath.join(SRS_HOME, path))


class Checker:
    """A check that gathers problems while it walks the deployment. It
    starts with one problem per overlay that was not rendered."""

    def __init__(self, deploy: Deployment):
        self.deploy = deploy
        self.root = deploy.root
        self.compose = deploy.compose
        self.overlays = deploy.overlays
        self.services = deploy.services
        self.problems: list[str] = deploy.unrendered()
