"""The checks' own parsers and evaluators, on small inputs: .dockerignore
rules, SRS's config syntax, NetworkPolicy selectors, where SRS writes, and
what the Redis check derives from the code."""

import pytest

from deploycheck import engine, hardening, metrics, redis_acl
from deploycheck.context import excluded, ignore_patterns


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


def test_parse_conf_reads_blocks():
    problems = []
    conf = engine.parse_conf("a 1; # note\nb { c 2 3; d { e 4; } }\n", problems)
    assert engine.value(conf, "a") == "1"
    assert engine.value(conf, "b", "c") == "2 3"
    assert engine.value(conf, "b", "d", "e") == "4"
    assert engine.value(conf, "b", "x") is None
    assert problems == []


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({}, {"app": "x"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "x"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "y"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "y"]}]}, {"app": "y"}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, {"app": "x"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {}, True),
    ],
)
def test_policy_selects(selector, labels, selected):
    assert metrics.policy_selects(selector, labels) is selected


def test_engine_write_dirs_follow_srs_conf(tree):
    tree.replace("k8s/base/srs.conf", "hls_path            ./objs/nginx/html;", "hls_path            ./objs/hls/[app];")
    tree.sub("k8s/base/srs.conf", r"^srs_log_tank\s+console;", "srs_log_tank file;\nsrs_log_file ./objs/logs/srs.log;")
    dirs = hardening.Hardening(tree.deploy()).engine_write_dirs()
    assert dirs == {"/usr/local/srs/objs/run", "/usr/local/srs/objs/hls", "/usr/local/srs/objs/logs"}


def test_redis_needs_follow_the_code(tree):
    """Every user a service; the registry runs its own scripts (its src/redis)
    on the leases; the gateway only reads stream owners (shared/redis) and runs
    its own rate-limit script."""
    needs = redis_acl.RedisAcl(tree.deploy()).redis_needs_from_code()
    assert set(needs) == {"session-registry", "gateway", "ingest"}
    commands, keys = needs["session-registry"]
    assert {"evalsha", "script|load", "client|setinfo"} <= commands
    assert keys["vibes:{*}:leases"] == "RW"
    assert needs["gateway"][1]["vibes:{*}:owner"] == "R"
    assert needs["gateway"][1]["vibes:rl:*:*"] == "RW"
    assert "evalsha" in needs["gateway"][0]
