"""Build context: the Dockerfile's COPY sources (not --from) must exist in
the repository and survive .dockerignore (Docker's rules: a pattern matches a
path or any of its parents, the last matching pattern wins, "!" re-includes)."""

from __future__ import annotations

import re
import shlex

from .deployment import Deployment


def glob_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignore_patterns(text: str) -> list[tuple[bool, re.Pattern]]:
    """.dockerignore as (negated, regex) in file order."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        patterns.append((negated, glob_regex(line.lstrip("!").strip().strip("/"))))
    return patterns


def excluded(path: str, patterns: list[tuple[bool, re.Pattern]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negated, regex in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negated
    return result


def check(deploy: Deployment) -> list[str]:
    problems = []
    root = deploy.root
    patterns = ignore_patterns(deploy.text(".dockerignore") if deploy.exists(".dockerignore") else "")
    text = re.sub(r"\\\n", " ", deploy.text("Dockerfile"))
    for line in text.splitlines():
        if not re.match(r"\s*(COPY|ADD)\s", line, re.IGNORECASE):
            continue
        words = shlex.split(line, comments=True)
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]) or len(args) < 2:
            continue
        for source in args[:-1]:
            source = source.strip("/") or "."
            if source == ".":
                continue
            matches = sorted(root.glob(source))
            if not matches:
                problems.append(f"Dockerfile: COPY {source}: not in the repository")
            for match in matches:
                relative = match.relative_to(root).as_posix()
                if excluded(relative, patterns):
                    problems.append(f"Dockerfile: COPY {source}: {relative} is excluded by .dockerignore")
    return problems
