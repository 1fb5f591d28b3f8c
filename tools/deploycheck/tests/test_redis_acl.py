"""Redis: authentication everywhere, one user per service with its own
password, and each user's ACL exactly what its service's code sends."""

import pytest
from conftest import container, doc, env_entry

from deploycheck import redis_acl

COMPOSE = "compose/compose.yaml"


def test_the_repository_passes(tree):
    assert redis_acl.check(tree.deploy()) == []


def redis_args(change):
    """A change to the k8s Redis command line (args), in the prod overlay."""

    def fault(tree):
        def edit(docs):
            c = container(docs, "redis", kind="StatefulSet")
            key = "command" if c.get("command") else "args"
            c[key] = change(list(c[key]))

        tree.overlay("prod", edit)

    return fault


def replace_arg(old, new):
    def change(args):
        assert old in args, old
        args[args.index(old)] = new
        return args

    return change


def insert_after(anchor, *new):
    def change(args):
        at = args.index(anchor) + 1
        return args[:at] + list(new) + args[at:]

    return change


def registry_env(name, value=None, value_from=None):
    def fault(tree):
        def edit(docs):
            entry = env_entry(container(docs, "session-registry"), name)
            entry.pop("value", None)
            entry.pop("valueFrom", None)
            if value is not None:
                entry["value"] = value
            if value_from is not None:
                entry["valueFrom"] = value_from

        tree.overlay("prod", edit)

    return fault


def url_in_configmap(docs):
    settings = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("vibes-settings"))
    settings["data"]["REDIS_URL"] = "redis://gateway:x@redis:6379/"


def no_redis(docs):
    doc(docs, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]["image"] = "valkey/valkey:8"


FAULTS = [
    # the users
    pytest.param(
        lambda t: t.replace(COMPOSE, '      - default\n      - "off"', '      - default\n      - "on"'),
        "compose redis: the default user is not switched off",
        id="default-user-on",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE, '      - gateway\n      - "on"\n', '      - gateway\n      - "on"\n      - nopass\n'
        ),
        "compose redis: user gateway has nopass",
        id="nopass",
    ),
    pytest.param(
        redis_args(replace_arg(">$(REDIS_GATEWAY_PASSWORD)", ">hunter2")),
        "k8s prod StatefulSet/redis: user gateway must have exactly one password, >$(VAR) from the secrets",
        id="literal-password",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE, "      - --appendonly\n", "      - --requirepass\n      - x\n      - --appendonly\n"
        ),
        "compose redis: --requirepass given; the ACL is the --user directives only",
        id="requirepass",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE,
            "      - --user\n      - admin\n",
            '      - --user\n      - stranger\n      - "off"\n      - --user\n      - admin\n',
        ),
        "compose redis: ACL user stranger belongs to no service that uses Redis",
        id="stray-user",
    ),
    # each user's ACL against the code
    pytest.param(
        lambda t: t.replace(COMPOSE, "      - +hsetnx\n", ""),
        "compose redis user session-registry: lacks ['hsetnx'], which its code sends",
        id="command-missing",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE,
            "      - +zrangebyscore\n      - --user\n      - ingest",
            "      - +zrangebyscore\n      - +flushall\n      - --user\n      - ingest",
        ),
        "compose redis user gateway: allows ['flushall'], which its code never sends",
        id="command-extra",
    ),
    pytest.param(
        lambda t: t.replace(COMPOSE, '      - "~vibes:{*}:fence"\n', ""),
        "compose redis user ingest: no access to keys vibes:{*}:fence (RW), which its code uses",
        id="key-missing",
    ),
    pytest.param(
        lambda t: t.replace(COMPOSE, '"%R~vibes:{*}:owner"', '"~vibes:{*}:owner"'),
        "compose redis user gateway: may write keys vibes:{*}:owner, which its code only reads (%R~)",
        id="key-write-not-needed",
    ),
    pytest.param(
        lambda t: t.replace(COMPOSE, '      - "~vibes:{*}:flv"\n', '      - "~vibes:{*}:flv"\n      - "~vibes:*"\n'),
        "compose redis user session-registry: may access keys vibes:*, which its code never uses",
        id="key-extra",
    ),
    pytest.param(
        redis_args(insert_after(">$(REDIS_GATEWAY_PASSWORD)", "allchannels")),
        "rules this check does not know: ['allchannels']",
        id="unknown-rule",
    ),
    pytest.param(
        lambda t: t.replace("shared/redis/src/ownership.rs", 'redis::cmd("GET")', 'redis::cmd("GETDEL")'),
        "compose redis user gateway: lacks ['getdel'], which its code sends",
        id="code-sends-a-new-command",
    ),
    pytest.param(
        lambda t: t.replace("shared/redis/src/ownership.rs", 'redis::cmd("GET")', 'redis::cmd("GETDEL")'),
        "compose redis user gateway: keys vibes:{*}:owner are R, its code writes them",
        id="code-now-writes-a-key",
    ),
    pytest.param(
        lambda t: t.replace(
            "shared/redis/src/scripts/leave.lua",
            "redis.call('TIME')",
            "redis.call('TIME')\nredis.call('UNLINK', KEYS[1])",
        ),
        "compose redis user session-registry: lacks ['unlink'], which its code sends",
        id="script-sends-a-new-command",
    ),
    pytest.param(
        lambda t: t.replace(
            "shared/redis/src/scripts/leave.lua",
            "redis.call('TIME')",
            "redis.call(ARGV[2], KEYS[1])\nredis.call('TIME')",
        ),
        "shared/redis/src/scripts/leave.lua: a redis.* call this check cannot read",
        id="script-unreadable",
    ),
    # the services' URLs
    pytest.param(
        lambda t: t.replace(
            COMPOSE,
            "redis://session-registry:${REDIS_SESSION_REGISTRY_PASSWORD:?set REDIS_SESSION_REGISTRY_PASSWORD in compose/.env (see .env.example)}@redis:6379/",
            "redis://redis:6379/",
        ),
        "compose session-registry VIBES_REDIS__URL: the Redis URL carries no user",
        id="url-without-user",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE, "VIBES_OWNERSHIP__REDIS_URL: redis://ingest:", "VIBES_OWNERSHIP__REDIS_URL: redis://gateway:"
        ),
        "compose ingest VIBES_OWNERSHIP__REDIS_URL: logs in as gateway, not as its own user ingest",
        id="url-other-user",
    ),
    pytest.param(
        lambda t: t.replace(
            COMPOSE, "redis://ingest:${REDIS_INGEST_PASSWORD", "redis://ingest:${REDIS_GATEWAY_PASSWORD"
        ),
        "compose ingest VIBES_OWNERSHIP__REDIS_URL: the password is not ${REDIS_INGEST_PASSWORD}, the one redis gives user ingest",
        id="url-other-password",
    ),
    pytest.param(
        lambda t: t.sub(COMPOSE, r"^      VIBES_OWNERSHIP__REDIS_URL: .*\n", ""),
        "compose ingest: VIBES_OWNERSHIP__REDIS_URL is not set (its default has no user)",
        id="url-not-set",
    ),
    pytest.param(
        registry_env("REDIS_PASSWORD", value="hunter2"),
        "VIBES_REDIS__URL: the password comes from None, user session-registry's from ('vibes-secrets', 'REDIS_SESSION_REGISTRY_PASSWORD')",
        id="k8s-password-not-from-secret",
    ),
    pytest.param(
        registry_env(
            "REDIS_PASSWORD", value_from={"secretKeyRef": {"name": "vibes-secrets", "key": "REDIS_GATEWAY_PASSWORD"}}
        ),
        "the password comes from ('vibes-secrets', 'REDIS_GATEWAY_PASSWORD'), user session-registry's from",
        id="k8s-other-users-password",
    ),
    pytest.param(
        registry_env("VIBES_REDIS__URL", value="redis://session-registry:hunter2@redis:6379/"),
        "k8s prod Deployment/session-registry session-registry VIBES_REDIS__URL: the password is not $(VAR) of a variable defined before it",
        id="k8s-literal-password-in-url",
    ),
    pytest.param(
        lambda t: t.overlay("dev", url_in_configmap),
        "k8s dev ConfigMap/vibes-settings-",
        id="k8s-url-in-configmap",
    ),
    pytest.param(
        redis_args(lambda args: [a for a in args if a != "+ping"]),
        "k8s prod StatefulSet/redis: the ACL users differ from compose's redis service",
        id="k8s-differs-from-compose",
    ),
    pytest.param(
        lambda t: t.overlay("dev", no_redis),
        "k8s dev: no Redis workload",
        id="k8s-no-redis",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), FAULTS)
def test_catches(tree, fault, expected):
    fault(tree)
    problems = redis_acl.check(tree.deploy())
    assert any(expected in problem for problem in problems), problems


def test_needs_follow_the_code(tree):
    """What the check derives from the code: every user a service, and the
    registry's joins run the seat script."""
    needs = redis_acl.RedisAcl(tree.deploy()).redis_needs_from_code()
    assert set(needs) == {"session-registry", "gateway", "ingest"}
    commands, keys = needs["session-registry"]
    assert {"evalsha", "script|load", "client|setinfo"} <= commands
    assert keys["vibes:{*}:leases"] == "RW"
    assert needs["gateway"][1]["vibes:{*}:owner"] == "R"
