"""deploy/: the operator-facing files are valid for the tools that read them.

promtool (Debian `prometheus`, installed by scripts/bootstrap.sh) is required; the other
checkers (yamllint, haproxy, systemd-analyze, kubectl) are used when present, and only
their check is skipped when they are missing.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request

import pytest
import yaml

from tgtest import BIN, SRC, Daemon

DEPLOY = os.path.join(SRC, "deploy")
PROM = os.path.join(DEPLOY, "prometheus")

# SPEC §6 metric names.
SPEC_METRICS = {
    "tickgate_ticks_received_total", "tickgate_ticks_rejected_total", "tickgate_ticks_accepted_total",
    "tickgate_breaker_state", "tickgate_breaker_transitions_total", "tickgate_ring_depth",
    "tickgate_ring_dropped_total", "tickgate_engine_tick_seconds", "tickgate_tick_to_send_seconds",
    "tickgate_clients_connected", "tickgate_messages_sent_total", "tickgate_messages_conflated_total",
    "tickgate_clients_closed_total", "tickgate_auth_failures_total", "tickgate_alerts_total",
    "tickgate_snapshot_rows_total", "tickgate_snapshot_backlog", "tickgate_snapshot_dropped_total",
    "tickgate_journal_bytes_total", "tickgate_redis_up", "tickgate_postgres_up",
    "tickgate_io_uring_enabled",
    "tickgate_webhook_sent_total", "tickgate_webhook_backlog",  # SPEC §13
}
# SPEC §14 cluster metrics (README "Scale-out"), on ingest and gateway nodes.
CLUSTER_METRICS = {
    "tickgate_node_role", "tickgate_bus_up", "tickgate_bus_published_total",
    "tickgate_bus_received_total", "tickgate_bus_backlog", "tickgate_bus_dropped_total",
    "tickgate_bus_gaps_total", "tickgate_bus_duplicates_total", "tickgate_bus_rejected_total",
    "tickgate_bus_errors_total", "tickgate_bus_hop_seconds",
}
# Added by tickgate beyond §6: tells a disabled store (its up gauge reads 0,
# SPEC §15) from a store that is down, for the *Down alert rules.
ADDED_METRICS = {"tickgate_store_configured"}
SECRET_ENV = {
    "TICKGATE_AUTH_JWT_SECRET": "deploy-test-secret-0123456789abcdef",
    "TICKGATE_POSTGRES_URL": "postgres://tickgate:pw@127.0.0.1:1/tickgate",
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip("%s not installed" % tool)
    return path


def metric_names(expr):
    """tickgate_* names in a PromQL expression, histogram suffixes folded."""
    names = set(re.findall(r"\btickgate_[a-z0-9_]+", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def yaml_files():
    out = []
    for pat in ("**/*.yaml", "**/*.yml"):
        out += glob.glob(os.path.join(DEPLOY, pat), recursive=True)
    return sorted(set(out))


# ---------------------------------------------------------------- Prometheus

def test_promtool_check_rules_and_config():
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus, see scripts/bootstrap.sh)"
    r = run([promtool, "check", "rules", os.path.join(PROM, "rules.yml")])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([promtool, "check", "config", os.path.join(PROM, "prometheus.yml")])
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_rule_unit_tests():
    promtool = shutil.which("promtool")
    assert promtool
    r = run([promtool, "test", "rules", "rules.test.yml"], cwd=PROM)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_cover_the_issue_and_use_spec_metrics():
    doc = yaml.safe_load(open(os.path.join(PROM, "rules.yml")))
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    for name in ("TickgateBreakerOpen", "TickgateFeedStale", "TickgateSnapshotBacklogGrowing",
                 "TickgateSlowConsumerDisconnects", "TickgateTickToSendP99High",
                 "TickgateRedisDown", "TickgatePostgresDown"):
        assert name in rules, name
    assert "tickgate_breaker_state" in rules["TickgateBreakerOpen"]["expr"]
    assert "== 2" in rules["TickgateBreakerOpen"]["expr"] and rules["TickgateBreakerOpen"]["for"] == "1m"
    assert 'code="4008"' in rules["TickgateSlowConsumerDisconnects"]["expr"]
    p99 = rules["TickgateTickToSendP99High"]["expr"]
    assert "tickgate_tick_to_send_seconds_bucket" in p99 and "0.99" in p99 and "0.005" in p99
    for name, r in rules.items():
        known = SPEC_METRICS | ADDED_METRICS | CLUSTER_METRICS
        assert metric_names(r["expr"]) <= known, (name, metric_names(r["expr"]) - known)
        assert r["labels"]["severity"] in ("critical", "warning", "info"), name
        assert r["annotations"]["summary"], name


# ---------------------------------------------------------------- YAML manifests

def test_every_yaml_file_loads():
    files = yaml_files()
    assert len(files) >= 10, files
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        assert docs, path
        for d in docs:
            assert isinstance(d, dict), path


def test_yamllint():
    yl = need("yamllint")
    r = run([yl, "-s", "-c", os.path.join(DEPLOY, ".yamllint"), DEPLOY])
    assert r.returncode == 0, r.stdout + r.stderr


def test_kubernetes_manifests():
    objs = {}
    for path in glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml")):
        for d in yaml.safe_load_all(open(path)):
            if d and "kind" in d and d["kind"] != "Kustomization":
                assert d.get("apiVersion") and d.get("metadata", {}).get("name"), path
                objs.setdefault(d["kind"], []).append(d)
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert kind in objs, kind
    dep = next(d for d in objs["Deployment"] if d["metadata"]["name"] == "tickgate-gateway")
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "seccompProfile" in pod["securityContext"]
    c = pod["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["resources"]["requests"] and c["resources"]["limits"]
    env = {e["name"]: e for e in c["env"]}
    for var in ("TICKGATE_AUTH_JWT_SECRET", "TICKGATE_POSTGRES_URL"):
        assert "secretKeyRef" in env[var]["valueFrom"], var
    # selectors match the pod labels
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc = next(s for s in objs["Service"] if s["metadata"]["name"] == "tickgate")
    assert svc["spec"]["selector"].items() <= labels.items()
    pdb = objs["PodDisruptionBudget"][0]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = objs["HorizontalPodAutoscaler"][0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tickgate-gateway"
    # SPEC §14: one ingest Deployment (never two at once), the Service on gateways only
    ing = next(d for d in objs["Deployment"] if d["metadata"]["name"] == "tickgate-ingest")
    assert ing["spec"]["replicas"] == 1 and ing["spec"]["strategy"]["type"] == "Recreate"
    ing_labels = ing["spec"]["template"]["metadata"]["labels"]
    assert not svc["spec"]["selector"].items() <= ing_labels.items()
    cm = objs["ConfigMap"][0]["data"]
    assert re.search(r'role\s*=\s*"gateway"', cm["gateway.conf"])
    assert re.search(r'role\s*=\s*"ingest"', cm["ingest.conf"])
    assert "/etc/tickgate/ingest.conf" in ing["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "/etc/tickgate/gateway.conf" in c["args"]
    kinds = {m["type"] for m in hpa["spec"]["metrics"]}
    assert {"Resource", "Pods"} <= kinds
    assert any(m.get("pods", {}).get("metric", {}).get("name") == "tickgate_clients_connected"
               for m in hpa["spec"]["metrics"])


def test_kustomize_renders():
    kubectl = need("kubectl")
    r = run([kubectl, "kustomize", os.path.join(DEPLOY, "k8s")])
    if r.returncode != 0 and "unknown command" in r.stderr:
        pytest.skip("this kubectl has no kustomize")
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert "Deployment" in kinds and "HorizontalPodAutoscaler" in kinds


# ---------------------------------------------------------------- tickgate configs shipped in deploy/

def shipped_configs():
    """(name, text) of every tickgate config deploy/ ships or mounts."""
    out = []
    for path in [os.path.join(DEPLOY, "debian", "tickgate.conf")] + \
            sorted(glob.glob(os.path.join(DEPLOY, "compose", "*.conf"))):
        out.append((os.path.relpath(path, DEPLOY), open(path).read()))
    cm = yaml.safe_load(open(os.path.join(DEPLOY, "k8s", "configmap.yaml")))
    for key, text in cm["data"].items():
        out.append(("k8s/configmap.yaml:" + key, text))
    return out


def test_shipped_configs_pass_check_config():
    env = dict(os.environ, **SECRET_ENV)
    for name, text in shipped_configs():
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write(text)
            f.flush()
            r = run([BIN, "--config", f.name, "check-config"], env=env)
        assert r.returncode == 0, "%s: %s" % (name, r.stderr)
        assert SECRET_ENV["TICKGATE_AUTH_JWT_SECRET"] not in r.stdout + r.stderr, name


def test_compose_topology():
    doc = yaml.safe_load(open(os.path.join(DEPLOY, "compose.yaml")))
    svcs = doc["services"]
    for s in ("postgres", "redis", "ingest", "gateway-1", "gateway-2", "haproxy"):
        assert s in svcs, s
    assert svcs["postgres"]["image"].startswith("postgres:15")
    assert svcs["redis"]["image"].startswith("redis:7")
    for s in ("ingest", "gateway-1", "gateway-2"):
        svc = svcs[s]
        assert any("seccomp-io_uring.json" in o for o in svc["security_opt"]), s
        assert svc["env_file"], s
        for v in svc["volumes"]:
            src = v.split(":")[0]
            if src.startswith("./"):
                assert os.path.exists(os.path.join(DEPLOY, src)), (s, src)
    # SPEC §14: one ingest node publishing on the bus, gateways with no feeds
    ingest = open(os.path.join(DEPLOY, "compose", "ingest.conf")).read()
    assert re.search(r'role\s*=\s*"ingest"', ingest) and "tickgate:bus" in ingest
    gw = open(os.path.join(DEPLOY, "compose", "gateway.conf")).read()
    assert re.search(r'role\s*=\s*"gateway"', gw) and "tickgate:bus" in gw
    assert not re.search(r"^\s*feeds\s*=", gw, re.M)
    assert "replicas" not in svcs["ingest"].get("deploy", {}) or \
        svcs["ingest"]["deploy"]["replicas"] == 1
    # HAProxy balances the gateways only
    cfg = open(os.path.join(DEPLOY, "compose", "haproxy.cfg")).read()
    servers = re.findall(r"^\s*server\s+(\S+)\s+(\S+)", cfg, re.M)
    assert sorted(n for n, _ in servers) == ["gateway-1", "gateway-2"], servers
    assert not any("ingest" in addr for _, addr in servers)
    # no secret in a mounted config: they come from the env files
    for text in (ingest, gw):
        assert not re.search(r"jwt_secret\s*=", text) and "postgres://" not in text
    for f in svcs["ingest"]["env_file"]:
        assert os.path.exists(os.path.join(DEPLOY, f)), f


def test_haproxy_config():
    haproxy = need("haproxy")
    r = run([haproxy, "-c", "-f", os.path.join(DEPLOY, "compose", "haproxy.cfg")])
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = open(os.path.join(DEPLOY, "compose", "haproxy.cfg")).read()
    assert "mode tcp" in cfg and "httpchk" in cfg and "/health" in cfg


# ---------------------------------------------------------------- packaging, container

def test_systemd_unit():
    unit = open(os.path.join(DEPLOY, "systemd", "tickgate.service")).read()
    for line in ("User=tickgate", "ExecStart=/usr/bin/tickgate --config /etc/tickgate/tickgate.conf",
                 "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/tickgate", "LimitNOFILE=1048576", "CapabilityBoundingSet=\n",
                 "EnvironmentFile=-/etc/default/tickgate"):
        assert line in unit, line
    assert re.search(r"^SystemCallFilter=.*io_uring_setup.*io_uring_enter.*io_uring_register", unit, re.M)


def test_systemd_analyze_verify():
    sa = need("systemd-analyze")
    d = tempfile.mkdtemp(prefix="tg-unit-")
    try:
        unit = open(os.path.join(DEPLOY, "systemd", "tickgate.service")).read()
        path = os.path.join(d, "tickgate.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/bin/tickgate", os.path.abspath(BIN)))
        r = run([sa, "verify", "--man=no", path])
        # verify exits 0 on some problems (an unknown system call name): no output at all.
        out = "\n".join(l for l in (r.stdout + r.stderr).splitlines()
                        if "Failed to connect to bus" not in l)
        assert r.returncode == 0 and not out.strip(), r.stdout + r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_debian_maintainer_scripts():
    for name in ("postinst", "prerm", "postrm"):
        path = os.path.join(DEPLOY, "debian", name)
        assert os.access(path, os.X_OK), name
        r = run(["sh", "-n", path])
        assert r.returncode == 0, r.stderr
    assert open(os.path.join(DEPLOY, "debian", "conffiles")).read().split() == ["/etc/tickgate/tickgate.conf"]


def test_dockerfile():
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms[0] == "debian:12" and froms[-1] == "debian:12-slim", froms
    final = text.split("FROM debian:12-slim", 1)[1]
    assert re.search(r"^USER\s+(?!0\b|root\b)\S+", final, re.M)
    assert re.search(r"^HEALTHCHECK .*?/health", final, re.M | re.S)
    assert re.search(r"^EXPOSE\s+.*\b8080\b", final, re.M)
    assert "TICKGATE_SERVER_LISTEN=0.0.0.0:8080" in final
    # Every library the binary links directly comes from a package the runtime stage installs.
    readelf = shutil.which("readelf")
    if not readelf or not shutil.which("dpkg"):
        return
    needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", run([readelf, "-d", BIN]).stdout)
    runtime = set(re.findall(r"\b(lib[a-z0-9.+-]+|ca-certificates|tzdata)\b",
                             final.split("apt-get install", 1)[1].split("rm -rf", 1)[0]))
    base = {"libc6", "libgcc-s1", "zlib1g", "libstdc++6"}  # in debian:12-slim already
    for lib in needed:
        if "asan" in lib or "ubsan" in lib or "tsan" in lib:
            continue
        r = run(["dpkg", "-S", lib])
        pkgs = {l.split(":")[0] for l in r.stdout.splitlines() if "/" in l and not l.startswith("diversion")}
        if not pkgs:
            continue
        assert pkgs & (runtime | base), "%s (from %s) not installed in the runtime stage" % (lib, pkgs)


def test_seccomp_profile():
    prof = json.load(open(os.path.join(DEPLOY, "seccomp-io_uring.json")))
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = set()
    for s in prof["syscalls"]:
        assert s["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"), s
        if s["action"] == "SCMP_ACT_ALLOW" and not s.get("includes") and not s.get("args"):
            allowed |= set(s["names"])
    assert {"io_uring_setup", "io_uring_enter", "io_uring_register"} <= allowed
    # the rest of Docker's default profile: what a daemon needs, nothing privileged
    assert {"epoll_wait", "accept4", "sendmsg", "futex", "mmap", "fdatasync"} <= allowed
    assert not {"mount", "bpf", "ptrace", "unshare", "setns", "reboot"} & allowed


# ---------------------------------------------------------------- Grafana

def test_grafana_dashboard():
    dash = json.load(open(os.path.join(DEPLOY, "grafana", "tickgate.json")))
    assert dash["title"] and dash["uid"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    used = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
            used |= metric_names(t["expr"])
    known = SPEC_METRICS | CLUSTER_METRICS
    assert used <= known, used - known
    assert used == known, "not on the dashboard: %s" % (known - used)
    # per-role views: a `role` variable from tickgate_node_role, used by the panels
    roles = [v for v in dash["templating"]["list"] if v["name"] == "role"]
    assert roles and "tickgate_node_role" in roles[0]["definition"]
    assert any("$role" in t["expr"] for p in dash["panels"] for t in p.get("targets", []))


# ---------------------------------------------------------------- the daemon's own /metrics

def test_promtool_check_metrics_of_the_daemon():
    promtool = shutil.which("promtool")
    assert promtool
    feeds = 'feeds = ( { name = "syn"; type = "synthetic"; rate = 2000; } );\n'
    with Daemon(config=feeds) as d:
        # Let some ticks flow so histograms and labelled counters have samples.
        import time
        time.sleep(1.0)
        status, body = d.http("/metrics")
        assert status == 200, body
    text = body.decode()
    assert "tickgate_ticks_accepted_total" in text
    assert "tickgate_tick_to_send_seconds_bucket" in text
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- the seccomp profile, applied

def _run_under_profile(without=None):
    """Start tickgate under deploy/seccomp-io_uring.json (scripts/seccomp-run.py); return
    (health status, io_uring log events, tickgate_io_uring_enabled line)."""
    from tgtest import free_port, wait_port
    d = tempfile.mkdtemp(prefix="tg-seccomp-")
    port = free_port()
    conf = os.path.join(d, "t.conf")
    os.mkdir(os.path.join(d, "journal"))
    with open(conf, "w") as f:
        f.write('server = { listen = "127.0.0.1:%d"; };\n' % port)
        f.write('feeds = ( { name = "syn"; type = "synthetic"; rate = 1000; } );\n')
        f.write('journal = { dir = "%s"; };\n' % os.path.join(d, "journal"))
    cmd = ["/usr/bin/python3", os.path.join(SRC, "scripts", "seccomp-run.py")]
    if without:
        cmd += ["--without", ",".join(without)]
    cmd += [os.path.join(DEPLOY, "seccomp-io_uring.json"), "--", BIN, "--config", conf]
    log = open(os.path.join(d, "stderr.log"), "w+")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log,
                         env=dict(os.environ, **SECRET_ENV))
    try:
        assert wait_port(port), open(log.name).read()
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5) as r:
            status = r.status
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            metrics = r.read().decode()
    finally:
        p.terminate()
        code = p.wait(timeout=15)
        text = open(log.name).read()
        shutil.rmtree(d, ignore_errors=True)
    assert code == 0, text
    gauge = [l for l in metrics.splitlines() if l.startswith("tickgate_io_uring_enabled")]
    return status, "io_uring_unavailable" in text, gauge


def test_daemon_runs_with_io_uring_under_the_seccomp_profile():
    try:
        subprocess.run(["/usr/bin/python3", "-c", "import seccomp"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("python3-seccomp not installed")
    if os.environ.get("TG_SANITIZER"):
        pytest.skip("sanitizer runtimes need syscalls a container profile refuses (ptrace for LSan)")
    status, unavailable, gauge = _run_under_profile()
    assert status == 200
    assert not unavailable, "io_uring refused under deploy/seccomp-io_uring.json"
    if gauge:
        assert gauge[0].split()[-1] == "1", gauge
    # Negative control: the same profile without the io_uring syscalls (Docker's own
    # default) makes tickgate fall back, still serving.
    status, unavailable, gauge = _run_under_profile(
        without=["io_uring_setup", "io_uring_enter", "io_uring_register"])
    assert status == 200 and unavailable
    if gauge:
        assert gauge[0].split()[-1] == "0", gauge


def test_sql_migrations_name_themselves_and_the_readme_names_them():
    """Each deploy/sql/NNN_name.sql starts with a comment naming that file (a
    renumbered migration kept its old name once: 004_alerts_api.sql said 003),
    and every migration the README mentions exists."""
    files = sorted(glob.glob(os.path.join(DEPLOY, "sql", "*.sql")))
    assert files
    for f in files:
        base = os.path.basename(f)
        assert re.fullmatch(r"\d{3}_[a-z0-9_]+\.sql", base), base
        with open(f) as fh:
            first = fh.readline()
        assert first.startswith("-- %s " % base), (base, first)
    with open(os.path.join(SRC, "README.md")) as fh:
        readme = fh.read()
    names = {os.path.basename(f) for f in files}
    for m in set(re.findall(r"\b\d{3}_[a-z0-9_]+\.sql\b", readme)):
        assert m in names, m
