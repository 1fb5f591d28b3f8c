"""Each check catches what it is meant to catch: for every fault in
faults/<check>.yaml, a copy of the repository is broken that way and the
check must report the fault's `expect` text. And the repository as it is
passes every check. `{SRS_VERSION}` in a fault stands for scripts/srs-pin's.

A fault is a list of edits (or one `edit`):
  {file: F, replace: OLD, with: NEW, count: N}   text in a file (OLD must occur N times, default 1)
  {file: F, sub: REGEX, with: NEW}               a regex substitution that must match
  {file: F, delete: true}                        the file is removed
  {overlay: dev|prod|both, empty: true}          the overlay was not rendered
  {overlay: .., doc: Kind/name, OP: ...}         a change to one rendered document
  {overlay: .., remove_docs: Kind}               every document of a kind removed
where OP is one of
  set: {PATH: value}          delete: [PATH]             append: {PATH: item}
  remove: {PATH: MATCH}       replace_item: {PATH: {old: ITEM, new: ITEM}}
  insert: {PATH: {after: ITEM, value: ITEM}} (or {first: true, value: ITEM})
PATH is dotted keys with [N], [key=value] or [key] steps, e.g.
spec.template.spec.containers[name=srs].ports[name=api].containerPort or
data[vibes.conf] (a key that holds a dot). Every step must find exactly what
it names, and every change must change something, so a fault is never a
silent no-op."""

from __future__ import annotations

import fnmatch
import pathlib
import re

import pytest
import yaml
from conftest import SRS_VERSION

from deploycheck import context, drift, edge, engine, hardening, metrics, redis_acl

CHECKS = {
    "context": context.check,
    "drift": drift.check,
    "engine-image": engine.check_image,
    "engine-config": engine.check_config,
    "edge": edge.check,
    "hardening": hardening.check,
    "redis": redis_acl.check,
    "metrics": metrics.check,
}
FAULTS_DIR = pathlib.Path(__file__).parent / "faults"


def load_faults():
    params = []
    for check in CHECKS:
        text = (FAULTS_DIR / f"{check}.yaml").read_text().replace("{SRS_VERSION}", SRS_VERSION)
        for fault in yaml.safe_load(text):
            params.append(pytest.param(check, fault, id=f"{check}:{fault['id']}"))
    return params


# ------------------------------------------------------------ paths ---
STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def steps(path: str) -> list:
    return [key or selector_of(selector) for key, selector in STEP.findall(path)]


def selector_of(text: str):
    """[3]: an index; [name=x]: the one item whose name is x; [a.b]: a key."""
    if text.isdigit():
        return int(text)
    if "=" in text:
        key, _, value = text.partition("=")
        return (key, value)
    return text


def step_into(node, step):
    if isinstance(step, tuple):
        key, value = step
        found = [item for item in node if isinstance(item, dict) and str(item.get(key)) == value]
        assert len(found) == 1, f"[{key}={value}]: {len(found)} matches"
        return found[0]
    if isinstance(step, int):
        return node[step]
    assert step in node, f"no {step!r} in {sorted(node) if isinstance(node, dict) else node!r}"
    return node[step]


def parent_of(doc, path):
    *head, last = steps(path)
    node = doc
    for step in head:
        node = step_into(node, step)
    return node, last


def apply_doc_edit(doc, edit):
    for path, value in (edit.get("set") or {}).items():
        node, last = parent_of(doc, path)
        node[last] = value
    for path in edit.get("delete") or []:
        node, last = parent_of(doc, path)
        step_into(node, last)  # it must be there
        del node[last]
    for path, value in (edit.get("append") or {}).items():
        node, last = parent_of(doc, path)
        node.setdefault(last, []).append(value)
    for path, match in (edit.get("remove") or {}).items():
        node, last = parent_of(doc, path)
        items = node[last]
        kept = [item for item in items if not matches(item, match)]
        assert len(kept) < len(items), f"{path}: nothing matches {match!r}"
        node[last] = kept
    for path, spec in (edit.get("replace_item") or {}).items():
        node, last = parent_of(doc, path)
        items = node[last]
        items[items.index(spec["old"])] = spec["new"]
    for path, spec in (edit.get("insert") or {}).items():
        node, last = parent_of(doc, path)
        items = node[last]
        at = 0 if spec.get("first") else items.index(spec["after"]) + 1
        items.insert(at, spec["value"])


def matches(item, match) -> bool:
    if isinstance(match, dict):
        return isinstance(item, dict) and all(item.get(k) == v for k, v in match.items())
    return item == match


def apply(tree, edit):
    if "file" in edit:
        if edit.get("delete") is True:
            (tree.root / edit["file"]).unlink()
        elif "replace" in edit:
            tree.replace(edit["file"], edit["replace"], edit["with"], edit.get("count", 1))
        else:
            tree.sub(edit["file"], edit["sub"], edit["with"])
        return
    overlays = list(tree.rendered) if edit["overlay"] == "both" else [edit["overlay"]]
    for overlay in overlays:
        if edit.get("empty"):
            tree.rendered[overlay].write_text("")
            continue

        def change(docs):
            if "remove_docs" in edit:
                docs[:] = [d for d in docs if d["kind"] != edit["remove_docs"]]
                return
            kind, name = edit["doc"].split("/", 1)
            found = [d for d in docs if d["kind"] == kind and fnmatch.fnmatchcase(d["metadata"]["name"], name)]
            assert len(found) == 1, f"{edit['doc']}: {len(found)} documents"
            apply_doc_edit(found[0], edit)

        tree.overlay(overlay, change)


# ------------------------------------------------------------ tests ---
@pytest.mark.parametrize("check", CHECKS)
def test_the_repository_passes(tree, check):
    assert CHECKS[check](tree.deploy()) == []


@pytest.mark.parametrize(("check", "fault"), load_faults())
def test_catches(tree, check, fault):
    for edit in fault.get("edits") or [fault["edit"]]:
        apply(tree, edit)
    problems = CHECKS[check](tree.deploy())
    assert any(fault["expect"] in problem for problem in problems), problems
