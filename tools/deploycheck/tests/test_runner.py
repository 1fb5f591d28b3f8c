"""The runner: one line per check, failures shown indented, every check run
even after one failed, and a validator's warnings count as failures."""

import io
import sys

from deploycheck import runner
from deploycheck.runner import Check, Outcome


def test_warnings_fail_a_passing_command():
    assert not runner.no_warnings(Outcome(True, "x.yaml: WARN apps/v1beta1 is removed\n")).ok
    assert not runner.no_warnings(Outcome(True, "ERROR: bad\n")).ok
    assert not runner.no_warnings(Outcome(True, "[WARNING] something\n")).ok
    assert runner.no_warnings(Outcome(True, "WARNINGS_ARE_WORDS_HERE: fine\nall good\n")).ok
    assert not runner.no_warnings(Outcome(False, "")).ok


def test_command_outcomes():
    assert runner.command(sys.executable, "-c", "print('hi')").ok
    failed = runner.command(sys.executable, "-c", "import sys; print('no', file=sys.stderr); sys.exit(3)")
    assert not failed.ok
    assert failed.output == "no\n"
    missing = runner.command("no-such-tool-here")
    assert not missing.ok
    assert "no-such-tool-here: not found" in missing.output


def test_a_crashing_check_fails_with_its_traceback(tree):
    def crashes(deploy):
        raise KeyError("services")

    outcome = runner.problems_check(crashes, tree.deploy())()
    assert not outcome.ok
    assert "KeyError: 'services'" in outcome.output


def test_output_lists_every_check_and_indents_failures():
    out = io.StringIO()
    failures = runner.run_checks(
        [
            Check("a", "first", lambda: Outcome(True, "ignored\n")),
            Check("b", "second", lambda: Outcome(False, "one\ntwo\n")),
            Check("c", "third", lambda: Outcome(True)),
        ],
        out,
    )
    assert failures == 1
    assert out.getvalue() == "ok    first\nFAIL  second\n      one\n      two\nok    third\n"


def test_an_overlay_that_does_not_render_fails_its_check(tree):
    tree.replace("k8s/overlays/dev/kustomization.yaml", "resources:", "resources:\n  - missing.yaml")
    rendered = tree.root / "dev.yaml"
    outcome = runner.render_overlay(tree.root, "dev", rendered)
    assert not outcome.ok
    assert "missing.yaml" in outcome.output
    assert rendered.read_text() == ""
    deploy = runner.Deployment(tree.root, {"dev": rendered})
    assert deploy.unrendered() == ["k8s overlay dev: not rendered (see the kustomize check)"]


def test_the_base_may_load_nothing_from_outside_its_folder(tree):
    """Plain `kubectl kustomize` (as kubectl apply -k, Argo CD and Flux) refuses it."""
    (tree.root / "k8s/outside.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\n")
    tree.replace("k8s/base/kustomization.yaml", "resources:", "resources:\n  - ../outside.yaml")
    outcome = runner.render_overlay(tree.root, "prod", tree.root / "prod.yaml")
    assert not outcome.ok
