"""Redis: it admits no unauthenticated client (default user off), every
enabled user has a password from the secrets, every Redis URL a service gets
carries its own user and that user's password, and each service user may run
exactly the commands, on exactly the keys, that the service's code sends
(derived from shared/redis, the service's own src/redis and its sources); compose and k8s define
the same users."""

from __future__ import annotations

import re

from .deployment import Checker, Deployment, app_of, containers, image_name, pod_of, workloads

# Redis commands whose keys they only read (the rest may write).
READ_ONLY_COMMANDS = {
    "get",
    "mget",
    "hget",
    "hgetall",
    "hmget",
    "hexists",
    "smembers",
    "sismember",
    "scard",
    "zcard",
    "zcount",
    "zscore",
    "zrange",
    "zrangebyscore",
    "exists",
    "ttl",
    "pttl",
    "type",
    "strlen",
    "llen",
    "lrange",
}
# redis-rs command methods (on a pipeline) -> Redis commands.
PIPE_COMMANDS = {
    "get",
    "set",
    "del",
    "incr",
    "expire",
    "pexpire",
    "sadd",
    "srem",
    "smembers",
    "hset",
    "hget",
    "hdel",
    "hgetall",
    "hsetnx",
    "zadd",
    "zrem",
    "zcard",
    "zcount",
    "zscore",
    "zrangebyscore",
    "zremrangebyscore",
    "exists",
    "mget",
    "mset",
    "publish",
    "set_ex",
    "pset_ex",
    "set_nx",
}
PIPE_ALIASES = {"set_ex": "set", "pset_ex": "set", "set_nx": "set"}
# What every connection sends when it opens (redis-rs: AUTH, then CLIENT
# SETINFO, whose answer it ignores); AUTH needs no permission.
CONNECTION_SETUP = {"client|setinfo"}
SCRIPT_CALL = {"evalsha", "script|load"}  # redis::Script: EVALSHA, SCRIPT LOAD on NOSCRIPT


def password_ref(rule, style):
    """The variable a '>' password rule takes its value from, else None."""
    pattern = r">\$\((\w+)\)" if style == "k8s" else r">\$\{(\w+)(?::?[-?][^}]*)?\}"
    match = re.fullmatch(pattern, rule)
    return match.group(1) if match else None


def rules_without_passwords(users):
    return {name: [r for r in rules if not (r.startswith(">") or r.startswith("#"))] for name, rules in users.items()}


def parse_redis_url(url):
    match = re.fullmatch(r"rediss?://(?:([^:@/]*)(?::([^@/]*))?@)?([^/:]+)(?::(\d+))?(/.*)?", url)
    return match.groups() if match else None


def strip_literals(text):
    """Blanks out string and char literals (keeping length and newlines), so
    that braces inside them do not count."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + re.sub(r"[^\n]", " ", text[i + 1 : j]) + '"')
            i = j + 1
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i : i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i : i + 4])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(code, open_at):
    depth = 0
    for i in range(open_at, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(code)


class RedisAcl(Checker):
    def acl_users(self, args, where):
        """--user directives of a redis-server command line: user -> rules."""
        if not args or "redis-server" not in str(args[0]):
            self.problems.append(f"{where}: the command is not redis-server ... ({args[:1]})")
            return {}
        users, current = {}, None
        for arg in [str(a) for a in args[1:]]:
            if arg.startswith("--"):
                current = None
                if arg == "--user":
                    current = []
                elif arg in ("--aclfile", "--requirepass", "--masteruser"):
                    self.problems.append(f"{where}: {arg} given; the ACL is the --user directives only")
                continue
            if current is not None:
                if not current:
                    users[arg] = current
                current.append(arg)
        return {name: rules[1:] for name, rules in users.items()}

    def check_acl_basics(self, users, where, style):
        """Default off; every enabled user has exactly one password, from a variable."""
        default = users.get("default")
        if default is None or "off" not in default or "on" in default:
            self.problems.append(
                f"{where}: the default user is not switched off (clients would get in without a password)"
            )
        references = {}
        for name, rules in users.items():
            if name == "default":
                continue
            if "nopass" in rules:
                self.problems.append(f"{where}: user {name} has nopass")
            if "on" not in rules:
                continue
            passwords = [r for r in rules if r.startswith(">") or r.startswith("#")]
            refs = [password_ref(r, style) for r in passwords]
            if len(passwords) != 1 or refs[0] is None:
                self.problems.append(
                    f"{where}: user {name} must have exactly one password, "
                    f"{'>$(VAR)' if style == 'k8s' else '>${VAR}'} from the secrets"
                )
                continue
            references[name] = refs[0]
        return references

    def parse_redis_code(self, src):
        """The Redis code under `src` (keys.rs, scripts/*.lua and the other
        *.rs files): key patterns, each script's commands, the items (type or
        None, fn name) -> (body, file), their fields and the types declared."""
        keys_file = src / "keys.rs"
        keys_text = keys_file.read_text() if keys_file.exists() else ""
        key_patterns = {}
        for name, literal in re.findall(r'pub const (\w+): &str = "([^"]*)";', keys_text):
            key_patterns[name] = literal
        for name, fmt in re.findall(r'pub fn (\w+)\([^)]*\) -> String \{\s*format!\("([^"]*)"', keys_text):
            key_patterns[name] = re.sub(
                r"\{\{|\}\}|\{[^{}]*\}", lambda m: {"{{": "{", "}}": "}"}.get(m.group(0), "*"), fmt
            )
        lua_commands = {}
        for path in (src / "scripts").glob("*.lua"):
            text = path.read_text()
            calls = re.findall(r"redis\.p?call\(\s*['\"]([A-Za-z]+)['\"]", text)
            if "redis." in re.sub(r"redis\.p?call\(\s*['\"][A-Za-z]+['\"]", "", text):
                self.problems.append(f"{path.relative_to(self.root)}: a redis.* call this check cannot read")
            lua_commands[f"scripts/{path.name}"] = {c.lower() for c in calls}

        # Items: (type or None, fn name) -> body; fields: type -> field -> ('lua', file) | ('key', pattern)
        items, fields, types = {}, {}, set()
        for path in sorted(src.glob("*.rs")):
            if path.name == "keys.rs":
                continue
            where = str(path.relative_to(self.root))
            raw = path.read_text()
            code = strip_literals(raw)
            types.update(re.findall(r"(?m)^pub struct (\w+)", code))
            pos = 0
            for match in re.finditer(
                r"(?m)^(impl(?:<[^>]*>)?\s+(?:\w+\s+for\s+)?(\w+)[^{]*\{|(?:pub(?:\(crate\))?\s+)?(?:async\s+)?fn\s+(\w+))",
                code,
            ):
                if match.start() < pos:
                    continue
                if match.group(2):  # impl block
                    end = block_end(code, match.end() - 1)
                    type_name = match.group(2)
                    body_raw, body = raw[match.start() : end], code[match.start() : end]
                    for field, expr in re.findall(r"(?<!:)\b(\w+)\s*:(?!:)\s*([^,\n]+)", body_raw):
                        lua = re.search(r'include_str!\("([^"]+)"\)', expr)
                        key = re.search(r"keys::(\w+)", expr)
                        if lua:
                            fields.setdefault(type_name, {})[field] = ("lua", lua.group(1))
                        elif key:
                            fields.setdefault(type_name, {})[field] = ("key", key.group(1))
                    tuple_lua = re.search(r'Self\(Script::new\(include_str!\("([^"]+)"\)\)\)', body_raw)
                    if tuple_lua:
                        fields.setdefault(type_name, {})["0"] = ("lua", tuple_lua.group(1))
                    for fn in re.finditer(r"(?:pub(?:\(crate\))?\s+)?(?:async\s+)?fn\s+(\w+)[^{;]*\{", body):
                        fn_end = block_end(body, fn.end() - 1)
                        items[(type_name, fn.group(1))] = (
                            raw[match.start() + fn.start() : match.start() + fn_end],
                            where,
                        )
                    pos = end
                else:
                    brace = code.find("{", match.end())
                    end = block_end(code, brace)
                    items[(None, match.group(3))] = (raw[match.start() : end], where)
                    pos = end
        return key_patterns, lua_commands, items, fields, types

    def redis_needs_from_code(self):
        """What each service's code sends to Redis: service -> (commands, {key pattern: 'R'|'RW'}).
        Its Redis code is shared/redis's and its own `src/redis/` (the keys and
        scripts only it uses), laid out alike."""
        shared = self.parse_redis_code(self.root / "shared/redis/src")

        def direct(code, item):
            key_patterns, lua_commands, items, fields, _ = code
            body, where = items[item]
            type_name = item[0]
            commands, keys_used, scripted, calls = set(), set(), False, set()
            commands |= {c.lower() for c in re.findall(r'cmd\("([A-Za-z]+)"\)', body)}
            if re.search(r"\bcmd\((?!\")", body):
                self.problems.append(f"{where}: redis::cmd with a non-literal command")
            if "pipe()" in body:
                if ".atomic()" in body:
                    commands |= {"multi", "exec"}
                for method in re.findall(r"\.(\w+)\(", body[body.index("pipe()") :]):
                    if method in PIPE_COMMANDS:
                        commands.add(PIPE_ALIASES.get(method, method))
            for key in re.findall(r"keys::(\w+)", body):
                if key not in key_patterns:
                    self.problems.append(f"{where}: keys::{key} is not in keys.rs")
                else:
                    keys_used.add(key_patterns[key])
            for field in re.findall(r"\bself\s*\.\s*(\w+)", body):
                kind_value = fields.get(type_name, {}).get(field)
                if kind_value and kind_value[0] == "lua":
                    scripted = True
                    commands |= lua_commands.get(kind_value[1], set()) | SCRIPT_CALL
                    if kind_value[1] not in lua_commands:
                        self.problems.append(f"{where} {type_name}: {kind_value[1]} not found")
                elif kind_value and kind_value[0] == "key":
                    keys_used.add(key_patterns[kind_value[1]])
                elif (type_name, field) in items:
                    calls.add((type_name, field))
            for fn in re.findall(r"(?<![\w.:])(\w+)\(", body):
                if (None, fn) in items and (None, fn) != item:
                    calls.add((None, fn))
            if "Script::new" in body and not any(v[0] == "lua" for v in fields.get(type_name, {}).values()):
                self.problems.append(f"{where}: a Script this check cannot attribute")
            mode_ = "RW" if scripted or (commands - READ_ONLY_COMMANDS - SCRIPT_CALL) else "R"
            return commands, dict.fromkeys(keys_used, mode_), calls

        def closure(code, item, seen=None):
            seen = seen if seen is not None else set()
            if item in seen:
                return set(), {}
            seen.add(item)
            commands, keys_, calls = direct(code, item)
            keys_ = dict(keys_)
            for call in calls:
                more_commands, more_keys = closure(code, call, seen)
                commands |= more_commands
                for k, m in more_keys.items():
                    keys_[k] = "RW" if "RW" in (m, keys_.get(k)) else m
            return commands, keys_

        needs = {}
        for service in sorted(self.services):
            service_src = self.root / "services" / service / "src"
            own_src = service_src / "redis"
            paths = sorted(service_src.rglob("*.rs"))
            text = "\n".join(p.read_text() for p in paths)
            if "vibes_redis" not in text:
                continue
            code = shared
            if own_src.is_dir():
                own = self.parse_redis_code(own_src)
                code = tuple({**a, **b} if isinstance(a, dict) else a | b for a, b in zip(shared, own, strict=True))
            key_patterns, _, items, _, types = code
            used_types = {t for t in types if re.search(rf"\b{t}\b", text)}
            imports = " ".join(re.findall(r"use (?:vibes_redis|crate::redis)::[^;]*;", text, re.S))
            commands, keys_ = set(CONNECTION_SETUP), {}
            for type_name, fn in items:
                if type_name is None:
                    used = re.search(rf"\b(?:scripts|ownership|connection|vibes_redis)::{fn}\b", text) or re.search(
                        rf"\b{fn}\b", imports
                    )
                else:
                    used = type_name in used_types and re.search(rf"\.\s*{fn}\s*(?:::<[^>]*>)?\(", text)
                if used and fn not in ("default", "new"):
                    more_commands, more_keys = closure(code, (type_name, fn))
                    commands |= more_commands
                    for k, m in more_keys.items():
                        keys_[k] = "RW" if "RW" in (m, keys_.get(k)) else m
            # Keys the service names itself (keys::x) outside its Redis code and
            # hands to a call above, e.g. a rate-limit key to its script: read and written.
            outside = "\n".join(p.read_text() for p in paths if own_src not in p.parents)
            for key in re.findall(r"\bkeys::(\w+)", outside):
                if key in key_patterns:
                    keys_[key_patterns[key]] = "RW"
                else:
                    self.problems.append(f"services/{service}: keys::{key} is not in keys.rs")
            needs[service] = (commands, keys_)
        return needs

    def acl_grants(self, rules):
        commands, keys_, other = set(), {}, []
        for rule in rules:
            if rule.startswith("+"):
                commands.add(rule[1:].lower())
            elif rule.startswith("-"):
                if rule != "-@all":
                    self.problems.append(f"ACL rule {rule}: only -@all then explicit +commands are understood here")
            elif rule.startswith("~"):
                keys_[rule[1:]] = "RW"
            elif rule.startswith("%"):
                perm, _, pattern = rule[1:].partition("~")
                keys_[pattern] = "RW" if set(perm.upper()) >= {"R", "W"} else perm.upper()
            elif rule in ("on", "off", "resetchannels", "resetkeys", "resetpass", "reset") or rule.startswith(">"):
                continue
            else:
                other.append(rule)
        return commands, keys_, other

    def check_acl_against_code(self, users, where, needs):
        for service, (commands, keys_) in needs.items():
            rules = users.get(service)
            if rules is None:
                self.problems.append(f"{where}: no ACL user {service} (the service uses Redis)")
                continue
            granted, granted_keys, other = self.acl_grants(rules)
            at = f"{where} user {service}"
            found = self.problems.append
            if other:
                found(f"{at}: rules this check does not know: {other}")
            if "-@all" not in rules:
                found(f"{at}: does not start from -@all")
            if "resetchannels" not in rules or any(r.startswith("&") for r in rules):
                found(f"{at}: may use pub/sub channels (no code does)")
            if commands - granted:
                found(f"{at}: lacks {sorted(commands - granted)}, which its code sends")
            if granted - commands:
                found(f"{at}: allows {sorted(granted - commands)}, which its code never sends")
            for pattern, needed in sorted(keys_.items()):
                if pattern not in granted_keys:
                    found(f"{at}: no access to keys {pattern} ({needed}), which its code uses")
                elif needed == "RW" and granted_keys[pattern] != "RW":
                    found(f"{at}: keys {pattern} are {granted_keys[pattern]}, its code writes them")
            for pattern, granted_mode in sorted(granted_keys.items()):
                if pattern not in keys_:
                    found(f"{at}: may access keys {pattern}, which its code never uses")
                elif granted_mode == "RW" and keys_[pattern] == "R":
                    found(f"{at}: may write keys {pattern}, which its code only reads (%R~)")
        for name in users:
            if name not in needs and name not in ("default", "admin"):
                self.problems.append(f"{where}: ACL user {name} belongs to no service that uses Redis")

    def redis_url_settings(self):
        """service -> env names of its Redis URL settings (from default.toml)."""
        out = {}
        for service, config in self.services.items():
            for section, table in config.items():
                if not isinstance(table, dict):
                    continue
                for key in table:
                    if (section == "redis" and key == "url") or key == "redis_url":
                        out.setdefault(service, set()).add(f"VIBES_{section.upper()}__{key.upper()}")
        return out

    def redis_mode(self):
        needs = self.redis_needs_from_code()
        url_settings = self.redis_url_settings()
        if set(needs) != set(url_settings):
            self.problems.append(
                f"services using vibes_redis {sorted(needs)} differ from those with a Redis URL setting "
                f"{sorted(url_settings)}"
            )
        compose_users = None
        # compose
        redis = self.compose["services"].get("redis")
        if redis is None:
            self.problems.append("compose: no redis service")
        else:
            command = redis.get("command") or []
            compose_users = self.acl_users(command if isinstance(command, list) else command.split(), "compose redis")
            refs = self.check_acl_basics(compose_users, "compose redis", "compose")
            self.check_acl_against_code(compose_users, "compose redis", needs)
            for name, service in self.compose["services"].items():
                env = service.get("environment") or {}
                for key, value in env.items():
                    value = str(value)
                    if not re.match(r"rediss?://", value):
                        continue
                    at = f"compose {name} {key}"
                    # ${VAR...} (whose error text may hold any character) as \0VAR\0
                    parsed = parse_redis_url(
                        re.sub(r"\$\{(\w+)(?::?[-?][^}]*)?\}", lambda m: f"\0{m.group(1)}\0", value)
                    )
                    user, password = (parsed[0], parsed[1]) if parsed else (None, None)
                    if not user:
                        self.problems.append(f"{at}: the Redis URL carries no user")
                        continue
                    if user != name:
                        self.problems.append(f"{at}: logs in as {user}, not as its own user {name}")
                    ref = re.fullmatch(r"\0(\w+)\0", password or "")
                    if not ref or ref.group(1) != refs.get(user):
                        self.problems.append(
                            f"{at}: the password is not ${{{refs.get(user)}}}, the one redis gives user {user}"
                        )
                for setting in url_settings.get(name, ()):
                    if setting not in env:
                        self.problems.append(f"compose {name}: {setting} is not set (its default has no user)")
        # k8s
        for overlay, docs in self.overlays.items():
            where = f"k8s {overlay}"
            redis_pod = None
            for doc in workloads(docs):
                for _, container in containers(pod_of(doc)):
                    if image_name(container.get("image", "")) == "redis":
                        redis_pod, redis_container = doc, container
            if redis_pod is None:
                self.problems.append(f"{where}: no Redis workload")
                continue
            at = f"{where} {redis_pod['kind']}/{redis_pod['metadata']['name']}"
            args = list(redis_container.get("command") or []) + list(redis_container.get("args") or [])
            users = self.acl_users(args, at)
            refs = self.check_acl_basics(users, at, "k8s")
            self.check_acl_against_code(users, at, needs)
            if compose_users is not None and rules_without_passwords(users) != rules_without_passwords(compose_users):
                self.problems.append(f"{at}: the ACL users differ from compose's redis service")
            redis_env = {e["name"]: e for e in redis_container.get("env", [])}

            def secret_key(entry):
                ref = (entry or {}).get("valueFrom", {}).get("secretKeyRef")
                return (ref["name"], ref["key"]) if ref else None

            user_secret = {}
            for user, var in refs.items():
                key = secret_key(redis_env.get(var))
                if key is None:
                    self.problems.append(f"{at}: user {user}'s password $({var}) does not come from a Secret")
                user_secret[user] = key
            for doc in workloads(docs):
                for kind, container in containers(pod_of(doc)):
                    env = container.get("env", [])
                    defined = {}
                    for entry in env:
                        value = str(entry.get("value", ""))
                        if re.match(r"rediss?://", value):
                            cat = f"{where} {doc['kind']}/{doc['metadata']['name']} {container['name']} {entry['name']}"
                            parsed = parse_redis_url(value)
                            user, password = (parsed[0], parsed[1]) if parsed else (None, None)
                            service = app_of(doc)
                            if not user:
                                self.problems.append(f"{cat}: the Redis URL carries no user")
                            else:
                                if user != service:
                                    self.problems.append(f"{cat}: logs in as {user}, not as its own user {service}")
                                ref = re.fullmatch(r"\$\((\w+)\)", password or "")
                                if not ref or ref.group(1) not in defined:
                                    self.problems.append(
                                        f"{cat}: the password is not $(VAR) of a variable defined before it"
                                    )
                                elif secret_key(defined[ref.group(1)]) != user_secret.get(user):
                                    self.problems.append(
                                        f"{cat}: the password comes from {secret_key(defined[ref.group(1)])}, "
                                        f"user {user}'s from {user_secret.get(user)}"
                                    )
                        defined[entry["name"]] = entry
                    names = {e["name"] for e in env}
                    for setting in url_settings.get(app_of(doc), ()):
                        if not kind and setting not in names:
                            self.problems.append(
                                f"{where} {doc['kind']}/{doc['metadata']['name']}: {setting} is not set"
                            )
            for doc in docs:
                if doc["kind"] == "ConfigMap":
                    for key, value in (doc.get("data") or {}).items():
                        if re.match(r"rediss?://", str(value)):
                            self.problems.append(
                                f"{where} ConfigMap/{doc['metadata']['name']} {key}: a Redis URL in a "
                                "ConfigMap (it needs a password: build it from the Secret)"
                            )


def check(deploy: Deployment) -> list[str]:
    checker = RedisAcl(deploy)
    checker.redis_mode()
    return checker.problems
