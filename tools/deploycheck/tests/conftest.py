"""Each test gets a copy of the repository's tracked files and the k8s
overlays as `kubectl kustomize` renders them, breaks one thing, and runs a
check on it (test_faults.py, faults/*.yaml)."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
from collections.abc import Callable

import pytest
import yaml

from deploycheck.deployment import Deployment

REPO = pathlib.Path(__file__).resolve().parents[3]
OVERLAYS = ("dev", "prod")
# The images' version (the local build's may differ by a backported fix).
SRS_VERSION = re.search(r"(?m)^SRS_IMAGE_VERSION=(\S+)$", (REPO / "scripts/srs-pin").read_text()).group(1)


class Tree:
    """A throwaway copy of the repository and its rendered overlays."""

    def __init__(self, root: pathlib.Path, rendered: dict[str, pathlib.Path]):
        self.root = root
        self.rendered = rendered

    def deploy(self) -> Deployment:
        return Deployment(self.root, self.rendered, SRS_VERSION)

    def replace(self, path: str, old: str, new: str, count: int = 1) -> None:
        """Replaces `old` in a file, which must hold it exactly `count` times
        (so that a test never passes because its fault was not made)."""
        file = self.root / path
        text = file.read_text()
        found = text.count(old)
        assert found == count, f"{path}: {old!r} found {found} times, expected {count}"
        file.write_text(text.replace(old, new))

    def sub(self, path: str, pattern: str, new: str) -> None:
        """re.sub in a file; the pattern must match."""
        file = self.root / path
        text, n = re.subn(pattern, new, file.read_text(), flags=re.MULTILINE)
        assert n, f"{path}: {pattern!r} matched nothing"
        file.write_text(text)

    def overlay(self, name: str, change: Callable[[list[dict]], object]) -> None:
        """Changes the rendered overlay's documents in place."""
        path = self.rendered[name]
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        change(docs)
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))

    def overlays(self, change: Callable[[list[dict]], object]) -> None:
        for name in self.rendered:
            self.overlay(name, change)


def tracked_files(root: pathlib.Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        stdout=subprocess.PIPE,
    ).stdout.decode()
    return [path for path in listed.split("\0") if path and (root / path).is_file()]


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Tree:
    base = tmp_path_factory.mktemp("pristine")
    root = base / "repo"
    for path in tracked_files(REPO):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, root / path)
    rendered = {}
    for overlay in OVERLAYS:
        rendered[overlay] = base / f"{overlay}.yaml"
        with rendered[overlay].open("w") as out:
            subprocess.run(["kubectl", "kustomize", f"k8s/overlays/{overlay}"], cwd=root, check=True, stdout=out)
    return Tree(root, rendered)


@pytest.fixture
def tree(pristine: Tree, tmp_path: pathlib.Path) -> Tree:
    root = tmp_path / "repo"
    shutil.copytree(pristine.root, root, symlinks=True)
    rendered = {}
    for overlay, path in pristine.rendered.items():
        rendered[overlay] = tmp_path / path.name
        shutil.copy2(path, rendered[overlay])
    return Tree(root, rendered)
