"""Build context: what the Dockerfile COPYs is in the repository and not
hidden by .dockerignore."""

import pytest

from deploycheck import context
from deploycheck.context import excluded, ignore_patterns


def test_the_repository_passes(tree):
    assert context.check(tree.deploy()) == []


FAULTS = [
    pytest.param(
        lambda t: t.replace("Dockerfile", "COPY shared ./shared", "COPY shared ./shared\nCOPY missing.toml ./"),
        "Dockerfile: COPY missing.toml: not in the repository",
        id="copies-a-missing-file",
    ),
    pytest.param(
        lambda t: t.replace(".dockerignore", "!nginx/lua\n", ""),
        "Dockerfile: COPY nginx/lua: nginx/lua is excluded by .dockerignore",
        id="ignores-what-it-copies",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS)
def test_catches(tree, fault, expected):
    fault(tree)
    problems = context.check(tree.deploy())
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("path", "is_excluded"),
    [
        ("nginx/README.md", True),  # nginx/* and *.md
        ("nginx/lua", False),  # re-included by !nginx/lua
        ("nginx/edge.conf.template", False),
        ("scripts/up", True),
        ("scripts/render-edge-config", False),
        ("web/node_modules/x/y.js", True),  # a parent matches
        ("a/b/c.log", True),  # **/*.log
        ("services/gateway/src/lib.rs", False),
    ],
)
def test_dockerignore_rules(tree, path, is_excluded):
    patterns = ignore_patterns((tree.root / ".dockerignore").read_text())
    assert excluded(path, patterns) is is_excluded
