"""The rules manifests/ and the Dockerfiles must keep, checked on what `kustomize build` renders, so they cannot drift:
the schemas (Kubernetes, strict; Dapr's CRDs), the Dapr annotations, ports agreeing with the Dockerfiles and the apps'
defaults, probes, resources, the restricted Pod Security Standard, the Dapr resources agreeing with the app's own
timeouts and breaker and with the embedded run's (dapr/: the outbox, its pub/subs, the delivery record, the delivery
retries), every Component scoped to exactly the apps that use it, the API tokens (from Secrets that are never rendered,
the same for each sidecar and its app), the NetworkPolicies (who reaches which port), Redis persisted, and the k6 Job's
scripts. Run by scripts/validate-manifests.sh, which provides KUSTOMIZE, DAPR_CRDS, DAPR_ANNOTATIONS and
KUBERNETES_VERSION."""
import os
import pathlib
import re
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = os.environ.get("KUBERNETES_VERSION", "1.33.0")
NAMESPACE = "todo-dapr"
APP_UID = 10001
APPS = {
    "todo-api": {
        "config": "todo-verticle/src/main/java/com/example/dapr/todo/TodoConfig.java",
        "dockerfile": "Dockerfile.todo", "module": "todo-verticle", "jar": "todo-api.jar"},
    "notification-service": {
        "config": "notification-verticle/src/main/java/com/example/dapr/notification/NotificationConfig.java",
        "dockerfile": "Dockerfile.notification", "module": "notification-verticle", "jar": "notification-service.jar"},
    "billing-service": {
        "config": "billing-verticle/src/main/java/com/example/dapr/billing/BillingConfig.java",
        "dockerfile": "Dockerfile.billing", "module": "billing-verticle", "jar": "billing-service.jar",
        "namespace": "billing"},
}


def namespace_of(app):
    return APPS.get(app, {}).get("namespace", NAMESPACE)


def render(path):
    out = subprocess.run([os.environ.get("KUSTOMIZE", "kustomize"), "build", str(ROOT / path)],
                         check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


BASE = render("manifests")
WITH_LOAD = render("manifests/overlays/with-load")


def objects(kind, docs=BASE, namespace=NAMESPACE):
    """The objects of {kind} in {namespace} (and the cluster-wide ones, which have none), by name."""
    return {o["metadata"]["name"]: o for o in docs
            if o["kind"] == kind and o["metadata"].get("namespace", namespace) == namespace}


def deployment(name):
    return objects("Deployment", namespace=namespace_of(name))[name]


def pod(name):
    return deployment(name)["spec"]["template"]


def container(name):
    return pod(name)["spec"]["containers"][0]


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def java_default(app, name):
    """The default of an environment variable in the app's config class: env.number("NAME", 3_000, ...)."""
    text = (ROOT / APPS[app]["config"]).read_text()
    match = re.search(r'env\.(?:number|port)\("' + name + r'",\s*([0-9_]+)', text)
    assert match, f"no default for {name} in {APPS[app]['config']}"
    return int(match.group(1).replace("_", ""))


def java_string_default(app, name):
    """The default of a text variable in the app's config class: env.string("NAME", "default")."""
    text = (ROOT / APPS[app]["config"]).read_text()
    match = re.search(r'env\.(?:string|choice)\("' + name + r'",\s*"([^"]*)"', text)
    assert match, f"no default for {name} in {APPS[app]['config']}"
    return match.group(1)


# What both apps read through the shared http-json module: the launcher (METRICS, METRICS_PORT, OTEL_SDK_DISABLED),
# tracing (OTEL_*), the log format.
SHARED_CONFIG = ["http-json/src/main/java/com/example/dapr/http/ServiceLauncher.java",
                 "http-json/src/main/java/com/example/dapr/http/Observability.java",
                 "http-json/src/main/java/com/example/dapr/http/Logging.java",
                 "http-json/src/main/java/com/example/dapr/http/Env.java"]


def java_env_names(app):
    """Every environment variable the app reads: its config class's and the shared module's."""
    names = set()
    for path in [APPS[app]["config"], *SHARED_CONFIG]:
        names |= set(re.findall(r'(?:env|this|Env\.system\(\))\.\w+\("([A-Z0-9_]+)"', (ROOT / path).read_text()))
    return names


def setting(app, name):
    """What the app runs with: the container's env, else its config class's default."""
    env = env_of(container(app))
    return env[name] if name in env else java_string_default(app, name)


def embedded(path):
    """The Dapr resources of the embedded run (dapr/...), by name."""
    docs = [d for f in sorted((ROOT / path).parent.glob((ROOT / path).name)) for d in yaml.safe_load_all(f.read_text())]
    return {d["metadata"]["name"]: d for d in docs if d}


def component_metadata(component):
    return {m["name"]: m for m in component["spec"].get("metadata", [])}


def duration_seconds(text):
    """A Go duration of the simple kinds used here: 500ms, 5s, 1m, 1h."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    assert match, f"not a simple duration: {text}"
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def dockerfile(app):
    return (ROOT / APPS[app]["dockerfile"]).read_text()


def workloads(docs=WITH_LOAD):
    """Every pod template: (kind/name, pod spec)."""
    for o in docs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]


def is_dapr(obj):
    return obj["apiVersion"].startswith("dapr.io/")


def ident(o):
    return f"{o['kind']}/{o['metadata']['name']}"


# --- schemas ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("obj", [o for o in WITH_LOAD if not is_dapr(o)], ids=ident)
def test_kubernetes_object_passes_the_kubernetes_schema_strictly(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def crd_schemas():
    schemas = {}
    for path in pathlib.Path(os.environ["DAPR_CRDS"]).glob("*.yaml"):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                for version in crd["spec"]["versions"]:
                    key = (crd["spec"]["group"] + "/" + version["name"], crd["spec"]["names"]["kind"])
                    schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(value, schema, path=""):
    """Fields the structural schema does not declare: the API server would drop them without a word."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key in schema["properties"]:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
            elif "additionalProperties" not in schema and not (path == "" and key in ("apiVersion", "kind")):
                found.append(f"{path}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            found += unknown_fields(item, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


@pytest.mark.parametrize("obj", [o for o in BASE if is_dapr(o)], ids=ident)
def test_dapr_object_passes_the_crd_schema_of_dapr_1_18_3(obj):
    schemas = crd_schemas()
    key = (obj["apiVersion"], obj["kind"])
    assert key in schemas, f"Dapr 1.18.3 has no CRD for {key}"
    jsonschema.validate(obj, schemas[key])
    assert unknown_fields(obj, schemas[key]) == []


def test_every_kind_is_validated():
    kinds = {o["kind"] for o in WITH_LOAD}
    assert {"Component", "Configuration", "Resiliency"} <= kinds
    assert {"Namespace", "Deployment", "Service", "PodDisruptionBudget", "Secret", "Job", "ConfigMap",
            "PersistentVolumeClaim", "NetworkPolicy"} <= kinds
    # Everything in todo-dapr but what manifests/billing/ puts in billing, billing-service's own namespace.
    billing = {ident(o) for o in render("manifests/billing") if o["kind"] != "Namespace"}
    for o in WITH_LOAD:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == ("billing" if ident(o) in billing and o["metadata"].get(
                "namespace") == "billing" else NAMESPACE), ident(o)
    assert billing == {ident(o) for o in WITH_LOAD if o["metadata"].get("namespace") == "billing"}


# --- the apps: ports, annotations, probes --------------------------------------------------------------------------

@pytest.mark.parametrize("app", APPS)
def test_app_port_agrees_everywhere(app):
    """app-port annotation == containerPort == APP_PORT env == the Dockerfile's EXPOSE and ENV == the app's default."""
    default = java_default(app, "APP_PORT")
    exposed = int(re.search(r"^EXPOSE (\d+)$", dockerfile(app), re.M).group(1))
    image_env = int(re.search(r"^ENV APP_PORT=(\d+)", dockerfile(app), re.M).group(1))
    c = container(app)
    annotation = int(pod(app)["metadata"]["annotations"]["dapr.io/app-port"])
    assert (default, exposed, image_env, annotation, c["ports"][0]["containerPort"], int(env_of(c)["APP_PORT"])) \
        == (default,) * 6
    service = objects("Service", namespace=namespace_of(app))[app]
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] in (c["ports"][0]["name"], default)
    assert service["spec"]["selector"].items() <= pod(app)["metadata"]["labels"].items()


@pytest.mark.parametrize("app", APPS)
def test_dapr_annotations(app):
    annotations = pod(app)["metadata"]["annotations"]
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == app
    assert annotations["dapr.io/enable-api-logging"] == "true"
    assert annotations["dapr.io/log-as-json"] == "true"
    assert annotations["dapr.io/config"] in objects("Configuration", namespace=namespace_of(app))
    for key in ("sidecar-cpu-request", "sidecar-cpu-limit", "sidecar-memory-request", "sidecar-memory-limit",
                "graceful-shutdown-seconds", "app-health-check-path", "app-health-probe-interval",
                "app-health-threshold"):
        assert f"dapr.io/{key}" in annotations, key
    assert annotations["dapr.io/enable-app-health-check"] == "true"
    assert annotations["dapr.io/app-health-check-path"] == "/health/live"
    # The sidecar's graceful shutdown fits in the pod's grace period.
    assert int(annotations["dapr.io/graceful-shutdown-seconds"]) < pod(app)["spec"]["terminationGracePeriodSeconds"]


def seconds_of(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


@pytest.mark.parametrize("app", APPS)
def test_the_sidecar_outlives_the_apps_drain_and_both_fit_in_the_grace_period(app):
    annotations = pod(app)["metadata"]["annotations"]
    block = seconds_of(annotations["dapr.io/block-shutdown-duration"])
    graceful = int(annotations["dapr.io/graceful-shutdown-seconds"])
    env = env_of(container(app))
    if app == "todo-api":
        drain = (int(env.get("SHUTDOWN_DELAY_MS", java_default(app, "SHUTDOWN_DELAY_MS")))
                 + int(env.get("SHUTDOWN_TIMEOUT_MS", java_default(app, "SHUTDOWN_TIMEOUT_MS")))) / 1000
    else:
        verticle = ROOT / "notification-verticle/src/main/java/com/example/dapr/notification/NotificationVerticle.java"
        drain = int(re.search(r"server\.shutdown\((\d+), java\.util\.concurrent\.TimeUnit\.SECONDS\)",
                              verticle.read_text()).group(1))  # what notifications in flight get on SIGTERM
    assert block >= drain, f"daprd stops serving after {block} s, the app may still drain for {drain} s"
    assert block + graceful < pod(app)["spec"]["terminationGracePeriodSeconds"]


def known_dapr_annotations():
    text = pathlib.Path(os.environ["DAPR_ANNOTATIONS"]).read_text()
    return set(re.findall(r'"(dapr\.io/[a-z0-9-]+)"', text))


@pytest.mark.parametrize("app", APPS)
def test_every_dapr_annotation_is_one_dapr_1_18_3_knows(app):
    """A misspelt annotation is ignored by the injector without a word: compare with Dapr's own list."""
    used = {k for k in pod(app)["metadata"]["annotations"] if k.startswith("dapr.io/")}
    assert used - known_dapr_annotations() == set()


@pytest.mark.parametrize("app", APPS)
def test_probes_on_the_health_routes(app):
    c = container(app)
    port = c["ports"][0]["name"]
    for probe, path in (("startupProbe", "/health/live"), ("livenessProbe", "/health/live"),
                        ("readinessProbe", "/health/ready")):
        assert c[probe]["httpGet"]["path"] == path, probe
        assert c[probe]["httpGet"]["port"] in (port, c["ports"][0]["containerPort"]), probe


@pytest.mark.parametrize("app", APPS)
def test_the_container_env_matches_the_app_defaults_it_relies_on(app):
    env = env_of(container(app))
    assert env["APP_PORT"] == str(java_default(app, "APP_PORT"))
    # Both reach their own sidecar (todo-api for everything, notification-service for its delivery record): the
    # injected daprd listens on localhost:3500 in the pod.
    assert env["DAPR_HTTP_PORT"] == str(java_default(app, "DAPR_HTTP_PORT")) == "3500"
    assert env.get("DAPR_SIDECAR_IP", java_string_default(app, "DAPR_SIDECAR_IP")) in ("127.0.0.1", "localhost")
    if app == "todo-api":
        for name in ("NOTIFY_TIMEOUT_MS", "STATE_TIMEOUT_MS", "BREAKER_MAX_FAILURES", "BREAKER_RESET_MS"):
            assert env[name] == str(java_default(app, name)), name


@pytest.mark.parametrize("app", APPS)
def test_every_env_variable_set_is_one_the_app_reads(app):
    """A misspelt variable would be ignored without a word and the app would run on its default."""
    set_here = {e["name"] for e in container(app)["env"]}
    assert set_here - java_env_names(app) == set()


# --- resources and the restricted Pod Security Standard ------------------------------------------------------------

RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def restricted_violations(spec):
    """The checks of the Kubernetes Pod Security Standard "restricted" (baseline included) on one pod spec."""
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(key)
    pod_sc = spec.get("securityContext", {})
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: {kinds - RESTRICTED_VOLUME_TYPES}")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation not false")
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
            problems.append(f"{name}: runAsNonRoot not true")
        if sc.get("runAsUser") == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile {seccomp}")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


@pytest.mark.parametrize("workload", list(workloads()), ids=lambda w: w[0])
def test_pod_meets_the_restricted_pod_security_standard(workload):
    _, spec = workload
    assert restricted_violations(spec) == []


@pytest.mark.parametrize("workload", list(workloads()), ids=lambda w: w[0])
def test_containers_have_requests_limits_and_a_read_only_root(workload):
    _, spec = workload
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for c in spec["containers"]:
        assert set(c["resources"]["requests"]) == {"cpu", "memory"}, c["name"]
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}, c["name"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
        # Whatever it must write goes to an emptyDir, or to a claim declared here (Redis's data).
        for mount in c.get("volumeMounts", []):
            if not mount.get("readOnly"):
                volume = volumes[mount["name"]]
                assert "emptyDir" in volume or volume.get("persistentVolumeClaim", {}).get("claimName") \
                    in objects("PersistentVolumeClaim", WITH_LOAD), f"{c['name']}: {mount['mountPath']}"


def test_the_namespace_enforces_the_restricted_standard():
    labels = objects("Namespace")[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("app", APPS)
def test_the_jvm_gets_a_writable_tmp_and_runs_as_the_image_user(app):
    mounts = {m["mountPath"]: m["name"] for m in container(app)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod(app)["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    uid = int(re.search(r"^ARG APP_UID=(\d+)$", dockerfile(app), re.M).group(1))
    assert uid == APP_UID
    assert pod(app)["spec"]["securityContext"]["runAsUser"] == uid
    assert pod(app)["spec"]["securityContext"]["runAsNonRoot"] is True


def test_notification_service_runs_three_replicas_behind_a_disruption_budget():
    assert deployment("notification-service")["spec"]["replicas"] == 3
    pdb = objects("PodDisruptionBudget")["notification-service"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod("notification-service")["metadata"]["labels"].items()
    assert 1 <= pdb["spec"]["minAvailable"] < 3


# --- the Dapr resources ----------------------------------------------------------------------------------------------

REDIS_COMPONENTS = [name for name, c in objects("Component").items() if c["spec"]["type"].endswith(".redis")]


def test_the_durable_design_has_its_redis_components():
    assert {name: objects("Component")[name]["spec"]["type"] for name in REDIS_COMPONENTS} == {
        "statestore": "state.redis", "outbox-pubsub": "pubsub.redis", "pubsub": "pubsub.redis",
        "notificationstore": "state.redis"}


@pytest.mark.parametrize("name", REDIS_COMPONENTS)
def test_every_redis_component_reaches_the_redis_service_with_its_password_from_the_secret(name):
    component = objects("Component")[name]
    assert component["auth"]["secretStore"] == "kubernetes"
    metadata = component_metadata(component)
    assert "value" not in metadata["redisPassword"], "the password comes from the Secret, never inline"
    ref = metadata["redisPassword"]["secretKeyRef"]
    assert ref["key"] in objects("Secret")[ref["name"]]["data"]
    host, port = metadata["redisHost"]["value"].split(":")
    service = objects("Service")[host.split(".")[0]]
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    assert service["spec"]["selector"].items() <= pod("redis")["metadata"]["labels"].items()
    # Redis requires the same password.
    redis_env = container("redis")["env"]
    assert {"name": ref["name"], "key": ref["key"]} in [e["valueFrom"]["secretKeyRef"] for e in redis_env
                                                       if "valueFrom" in e]


def components_used():
    """{app: {component name: the kind of building block it must be}}, from what each app is configured with."""
    outbox = component_metadata(objects("Component")[setting("todo-api", "STATE_STORE_NAME")])
    return {
        "todo-api": {setting("todo-api", "STATE_STORE_NAME"): "state",
                     setting("todo-api", "PUBSUB_NAME"): "pubsub",
                     outbox["outboxPublishPubsub"]["value"]: "pubsub",
                     outbox["outboxPubsub"]["value"]: "pubsub"},
        "notification-service": {setting("notification-service", "DEDUP_STORE_NAME"): "state"},
    }


def test_every_component_an_app_uses_exists_and_is_scoped_to_exactly_the_apps_that_use_it():
    """A Component missing from a sidecar's scope makes the app's calls fail (ERR_STATE_STORE_NOT_FOUND, or a
    subscription that never gets an event); one scoped to an app that does not use it exposes data to that app."""
    app_ids = {pod(app)["metadata"]["annotations"]["dapr.io/app-id"] for app in APPS}
    users = {}
    for app, used in components_used().items():
        for name, block in used.items():
            component = objects("Component").get(name)
            assert component is not None, f"{app} uses Component {name}, which is not in manifests/"
            assert component["spec"]["type"].startswith(block + "."), f"{name} is not a {block} component"
            users.setdefault(name, set()).add(app)
    for name, component in objects("Component").items():
        assert component.get("scopes"), f"Component {name} has no scopes: every app would load it"
        assert set(component["scopes"]) <= app_ids, name
        assert set(component["scopes"]) == users.get(name, set()), name


def test_the_outbox_publishes_where_todo_api_subscribes():
    """The statestore's outbox metadata names pub/sub Components that exist (scoped to todo-api: checked above) and the
    topic todo-api subscribes to; it is the embedded run's, so both run the same durable design."""
    store = objects("Component")[setting("todo-api", "STATE_STORE_NAME")]
    metadata = {k: v.get("value") for k, v in component_metadata(store).items()}
    for key in ("outboxPublishPubsub", "outboxPubsub"):
        assert objects("Component")[metadata[key]]["spec"]["type"].startswith("pubsub."), key
    assert metadata["outboxPublishPubsub"] == setting("todo-api", "PUBSUB_NAME")
    assert metadata["outboxPublishTopic"] == setting("todo-api", "NOTIFICATION_TOPIC")
    assert setting("todo-api", "NOTIFICATION_RETRY_TOPIC") not in ("", metadata["outboxPublishTopic"])
    assert metadata["outboxDiscardWhenMissingState"] == "true"
    shipped = component_metadata(embedded("dapr/state-redis/statestore.yaml")["statestore"])
    outbox_keys = {k for k in shipped if k.startswith("outbox")}
    assert {k for k in metadata if k.startswith("outbox")} == outbox_keys
    assert {k: metadata[k] for k in outbox_keys} == {k: shipped[k]["value"] for k in outbox_keys}


EMBEDDED_COMPONENTS = {**embedded("dapr/components/*.yaml"), **embedded("dapr/state-redis/statestore.yaml")}


@pytest.mark.parametrize("name", sorted(n for n, d in EMBEDDED_COMPONENTS.items() if d["kind"] == "Component"))
def test_each_component_of_the_embedded_run_is_here_with_the_same_settings(name):
    """Same type, scopes and metadata as dapr/ (the run of scripts/run.sh --redis); only where Redis is and its
    password differ (here: the redis Service and the Secret)."""
    shipped, here = EMBEDDED_COMPONENTS[name], objects("Component").get(name)
    assert here is not None, f"dapr/ has Component {name}, manifests/ does not"
    assert here["spec"]["type"] == shipped["spec"]["type"]
    assert here["spec"]["version"] == shipped["spec"]["version"]
    assert here["scopes"] == shipped["scopes"]
    where = {"redisHost", "redisPassword"}
    ours, theirs = component_metadata(here), component_metadata(shipped)
    assert {k: v for k, v in ours.items() if k not in where} == {k: v for k, v in theirs.items() if k not in where}
    assert where & set(theirs) <= set(ours)


def test_only_todo_api_may_post_notify_on_notification_service():
    """Access control is enforced by the callee's sidecar: notification-service's own Configuration carries it."""
    config = objects("Configuration")[pod("notification-service")["metadata"]["annotations"]["dapr.io/config"]]
    acl = config["spec"]["accessControl"]
    assert acl["defaultAction"] == "deny"
    assert acl["trustDomain"] == "public"
    assert [p["appId"] for p in acl["policies"]] == ["todo-api"]
    policy = acl["policies"][0]
    assert policy["defaultAction"] == "deny"
    assert policy["namespace"] == NAMESPACE
    assert policy["operations"] == [{"name": "/notify", "httpVerb": ["POST"], "action": "allow"}]
    for config in objects("Configuration").values():
        # Access control reads the callers' mTLS identities: nothing here may turn mTLS off.
        assert config["spec"].get("mtls", {}).get("enabled", True) is True
        assert 0 < float(config["spec"]["tracing"]["samplingRate"]) <= 1


def test_resiliency_agrees_with_the_apps_own_timeouts_and_breaker():
    resiliency = objects("Resiliency")["todo-api-resiliency"]
    policies, targets = resiliency["spec"]["policies"], resiliency["spec"]["targets"]
    app = targets["apps"]["notification-service"]
    assert "retry" not in app, "a notification is not idempotent: no retries on the app target"
    assert policies["timeouts"][app["timeout"]] == f"{java_default('todo-api', 'NOTIFY_TIMEOUT_MS') // 1000}s"
    breaker = policies["circuitBreakers"][app["circuitBreaker"]]
    # Dapr's breaker is one for the app (every replica) and counts the attempts to a dead replica too, picked at random:
    # three times todo-api's run, which counts no failure that never reached a replica (resiliency.yaml says why).
    assert breaker["trip"] == f"consecutiveFailures >= {3 * java_default('todo-api', 'BREAKER_MAX_FAILURES')}"
    assert breaker["timeout"] == f"{java_default('todo-api', 'BREAKER_RESET_MS') // 1000}s"
    store = targets["components"]["statestore"]["outbound"]
    assert policies["timeouts"][store["timeout"]] == f"{java_default('todo-api', 'STATE_TIMEOUT_MS') // 1000}s"
    assert "retry" not in store, "todo-api retries state calls itself"
    assert resiliency["scopes"] == ["todo-api"]


def test_every_resiliency_target_exists_and_is_loaded_by_the_sidecars_it_is_scoped_to():
    """A target naming no Component (or an app id nobody has) is ignored by Dapr without a word."""
    app_ids = {pod(app)["metadata"]["annotations"]["dapr.io/app-id"] for app in APPS}
    for resiliency in objects("Resiliency").values():
        scopes = set(resiliency["scopes"])
        targets = resiliency["spec"]["targets"]
        # An app of another namespace is named as todo-api calls it, <app-id>.<namespace>, and by its app id too.
        app_ids |= {f"{pod(app)['metadata']['annotations']['dapr.io/app-id']}.{namespace_of(app)}" for app in APPS
                    if namespace_of(app) != NAMESPACE}
        assert set(targets.get("apps", {})) <= app_ids
        for name, target in targets.get("components", {}).items():
            component = objects("Component").get(name)
            assert component is not None, f"Resiliency target {name} is no Component"
            assert scopes <= set(component["scopes"]), f"{name} is not loaded by every sidecar of {scopes}"
            for direction, policy in target.items():
                for kind, key in policy.items():
                    assert key in resiliency["spec"]["policies"][{"timeout": "timeouts", "retry": "retries",
                                                                  "circuitBreaker": "circuitBreakers"}[kind]]


def resolved(resiliency, target):
    policies = resiliency["spec"]["policies"]
    return {"timeout": policies["timeouts"][target["timeout"]], "retry": policies["retries"][target["retry"]]}


def test_the_delivery_retries_are_the_embedded_runs_and_fit_in_the_pubsubs_processing_timeout():
    """todo-api's sidecar retries a notification the subscriber answered RETRY (inbound on pubsub) as in
    dapr/components/resiliency.yaml, then dead-letters it; all tries end before Redis offers the event again."""
    pubsub = setting("todo-api", "PUBSUB_NAME")
    resiliency = objects("Resiliency")["todo-api-resiliency"]
    here = resolved(resiliency, resiliency["spec"]["targets"]["components"][pubsub]["inbound"])
    shipped_resiliency = next(d for d in embedded("dapr/components/*.yaml").values() if d["kind"] == "Resiliency")
    assert set(shipped_resiliency["scopes"]) == set(resiliency["scopes"])
    shipped = resolved(shipped_resiliency, shipped_resiliency["spec"]["targets"]["components"][pubsub]["inbound"])
    assert here == shipped
    retry = here["retry"]
    tries = int(retry["maxRetries"]) + 1
    assert tries > 1
    interval = retry["duration"] if retry["policy"] == "constant" else retry.get("maxInterval", "60s")
    worst = tries * duration_seconds(here["timeout"]) + (tries - 1) * duration_seconds(interval)
    processing = component_metadata(objects("Component")[pubsub])["processingTimeout"]["value"]
    assert worst < duration_seconds(processing), f"{worst} s of tries, processingTimeout {processing}"


def app_policies(resiliency):
    """{app id: {timeout/retry/circuitBreaker: the policy's value}} of a Resiliency's app targets, names resolved."""
    policies = resiliency["spec"]["policies"]
    kinds = {"timeout": "timeouts", "retry": "retries", "circuitBreaker": "circuitBreakers"}
    return {app: {kind: policies[kinds[kind]][name] for kind, name in target.items()}
            for app, target in resiliency["spec"]["targets"].get("apps", {}).items()}


def test_the_embedded_run_gives_notification_service_the_clusters_app_policy():
    """dapr/components/resiliency.yaml (scripts/run.sh) and manifests/base/resiliency.yaml: the same timeout, breaker
    and (no) retries for every app todo-api invokes, so the embedded run and the cluster invoke alike."""
    cluster = app_policies(objects("Resiliency")["todo-api-resiliency"])
    shipped = app_policies(next(d for d in embedded("dapr/components/*.yaml").values() if d["kind"] == "Resiliency"))
    assert shipped == cluster, f"embedded {shipped} != cluster {cluster}"
    assert setting("todo-api", "NOTIFICATION_APP_ID") in shipped


def test_an_app_policy_turns_daprs_built_in_invocation_retries_off():
    """What both Resiliency files rely on to keep Dapr's own retries (3, 1 s apart, to the replica resolved first)
    from stacking on NOTIFY_UNDELIVERED_RETRIES, read in Dapr 1.18.3's source: invokeWithRetry runs the built-in
    policy only when no policy names the app; a policy with no retry of its own then means one attempt."""
    source = dapr_source("pkg/messaging/direct_messaging.go")
    guard = "if !d.resiliency.PolicyDefined(app.id, resiliency.EndpointPolicy{}) && !req.IsStreamingRequest() {"
    assert guard in source
    assert source.index("d.resiliency.BuiltInPolicy(resiliency.BuiltInServiceRetries)") > source.index(guard)
    assert "r.apps[target]" in dapr_source("pkg/resiliency/resiliency.go"), "PolicyDefined: any policy for the app"
    for name, policy in app_policies(objects("Resiliency")["todo-api-resiliency"]).items():
        assert "retry" not in policy, f"{name}: a notification is not idempotent"


# --- observability: scrape annotations, the trace backend ------------------------------------------------------------

@pytest.mark.parametrize("app", APPS)
def test_the_prometheus_annotations_name_the_metrics_port_that_serves_the_scrape(app):
    """prometheus.io/port == METRICS_PORT == the container port named metrics, not the app port; the path is the one
    vertx-micrometer's embedded server answers (Observability.metricsOptions)."""
    annotations = pod(app)["metadata"]["annotations"]
    c = container(app)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == int(env_of(c)["METRICS_PORT"]) == ports["metrics"]
    assert ports["metrics"] in METRICS_PORTS and ports["metrics"] != ports["http"]
    served = (ROOT / "http-json/src/main/java/com/example/dapr/http/Observability.java").read_text()
    assert f'.setEmbeddedServerEndpoint("{annotations["prometheus.io/path"]}")' in served


@pytest.mark.parametrize("app", APPS)
def test_the_sidecar_and_the_app_trace_into_the_zipkin_service_at_one_sampling_rate(app):
    """The Configuration's Zipkin endpoint and the app's OTEL_EXPORTER_ZIPKIN_ENDPOINT are the same URL, on a Service
    of the namespace that selects the Zipkin pods on their port; the app samples new traces as its sidecar does."""
    configurations = objects("Configuration", namespace=namespace_of(app))
    tracing = configurations[pod(app)["metadata"]["annotations"]["dapr.io/config"]]["spec"]["tracing"]
    env = env_of(container(app))
    endpoint = tracing["zipkin"]["endpointAddress"]
    assert env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == endpoint
    assert float(env["OTEL_TRACES_SAMPLER_ARG"]) == float(tracing["samplingRate"]) > 0
    # The Service's short name in todo-dapr, its full name from another namespace (billing).
    suffix = "" if namespace_of(app) == NAMESPACE else re.escape(f".{NAMESPACE}.svc.cluster.local")
    match = re.fullmatch(r"http://([a-z0-9-]+)" + suffix + r":(\d+)/api/v2/spans", endpoint)
    assert match, endpoint
    service = objects("Service")[match.group(1)]
    port = next(p for p in service["spec"]["ports"] if p["port"] == int(match.group(2)))
    zipkin = deployment(match.group(1))["spec"]["template"]
    assert service["spec"]["selector"].items() <= zipkin["metadata"]["labels"].items()
    assert port["targetPort"] in {p["name"] for c in zipkin["spec"]["containers"] for p in c["ports"]}
    assert "OTEL_SDK_DISABLED" not in env and env.get("METRICS", "on") == "on"


def test_the_apps_log_json_lines_with_the_trace_id_in_their_images():
    for app in APPS:
        assert re.search(r"^ENV LOG_FORMAT=json$", dockerfile(app), re.M), app
        assert "LOG_FORMAT" not in env_of(container(app)), app


# --- the API tokens --------------------------------------------------------------------------------------------------

# Each Dapr annotation naming a token Secret, and the variable the sidecar and the app read it into.
TOKEN_ANNOTATIONS = {"dapr.io/api-token-secret": "DAPR_API_TOKEN", "dapr.io/app-token-secret": "APP_API_TOKEN"}
TOKEN_KEY = "token"


def dapr_source(path):
    """A file of the Go module github.com/dapr/dapr@v1.18.3 (the one DAPR_ANNOTATIONS is in)."""
    return (pathlib.Path(os.environ["DAPR_ANNOTATIONS"]).parents[3] / path).read_text()


def token_secrets(app):
    """{variable: the Secret its annotation names} for one app."""
    annotations = pod(app)["metadata"]["annotations"]
    return {variable: annotations.get(annotation) for annotation, variable in TOKEN_ANNOTATIONS.items()}


def test_dapr_1_18_3_gives_daprd_the_tokens_from_the_key_token_of_the_annotated_secrets():
    """What the manifests rely on, read from the injector's own source: the annotations, the key and the variables."""
    sidecar = dapr_source("pkg/injector/patcher/sidecar.go")
    container_go = dapr_source("pkg/injector/patcher/sidecar_container.go")
    consts = dapr_source("pkg/security/consts/consts.go")
    for field, annotation, const in (("APITokenSecret", "dapr.io/api-token-secret", "APITokenEnvVar"),
                                     ("AppTokenSecret", "dapr.io/app-token-secret", "AppAPITokenEnvVar")):
        assert re.search(rf'\b{field}\s+string\s+`annotation:"{re.escape(annotation)}"`', sidecar), field
        block = re.search(rf'if c\.{field} != "" \{{(.*?)\n\t\}}', container_go, re.S)
        assert block, f"no {field} in sidecar_container.go"
        assert f"Name: securityConsts.{const}," in block.group(1)
        assert f'Key: "{TOKEN_KEY}",' in block.group(1)
        assert f"Name: c.{field}," in block.group(1)
        assert re.search(rf'\b{const}\s*=\s*"{TOKEN_ANNOTATIONS[annotation]}"', consts), const
    assert re.search(r'\bAPITokenHeader\s*=\s*"dapr-api-token"', consts)


@pytest.mark.parametrize("app", APPS)
def test_both_api_tokens_come_from_the_secrets_the_annotations_name(app):
    """The sidecar gets DAPR_API_TOKEN and APP_API_TOKEN from the annotated Secrets' key "token" (the injector); the
    app container must read the very same ones, or the two disagree and every call between them is refused."""
    env = {e["name"]: e for e in container(app)["env"]}
    for variable, secret in token_secrets(app).items():
        assert secret, f"{app}: no annotation for {variable}, its sidecar would run without it"
        assert variable in env, f"{app}: the app container does not get {variable}"
        assert "value" not in env[variable], f"{app}: {variable} is written in the manifest"
        assert env[variable]["valueFrom"] == {"secretKeyRef": {"name": secret, "key": TOKEN_KEY}}, variable


def test_every_token_has_a_secret_of_its_own():
    """One token per app and direction: a token known to one app's pods opens nothing of the other's."""
    names = [secret for app in APPS for secret in token_secrets(app).values()]
    assert len(set(names)) == len(names) == 2 * len(APPS)


@pytest.mark.parametrize("docs", [BASE, WITH_LOAD], ids=["manifests", "with-load"])
def test_no_token_is_rendered(docs):
    """The token Secrets are made in the cluster (scripts/k8s-api-tokens.sh), never rendered from the repository."""
    tokens = {secret for app in APPS for secret in token_secrets(app).values()}
    for name, secret in objects("Secret", docs).items():
        assert name not in tokens, f"Secret {name} is rendered with its token"
        assert TOKEN_KEY not in {**secret.get("data", {}), **secret.get("stringData", {})}, name
    for o in docs:
        if o["kind"] == "ConfigMap":
            assert not set(o.get("data", {})) & set(TOKEN_ANNOTATIONS.values()), o["metadata"]["name"]
    for _, spec in workloads(docs):
        for c in spec["containers"]:
            for e in c.get("env", []):
                assert not (e["name"] in TOKEN_ANNOTATIONS.values() and "value" in e), f"{c['name']}: {e['name']}"


def test_the_token_script_creates_exactly_those_secrets_without_showing_a_token():
    script = (ROOT / "scripts/k8s-api-tokens.sh").read_text()
    listed = re.search(r"^SECRETS=\(\n(.*?)^\)", script, re.M | re.S)
    assert listed, "no SECRETS=( ... ) list in scripts/k8s-api-tokens.sh"
    assert set(listed.group(1).split()) == {f"{namespace_of(app)}/{s}" for app in APPS
                                            for s in token_secrets(app).values()}
    for namespace in {namespace_of(app) for app in APPS}:
        assert f"[{namespace}]=manifests/" in script, f"the token script does not create namespace {namespace}"
    assert f"--from-file={TOKEN_KEY}=" in script
    assert "--from-literal" not in script and "/dev/urandom" in script


# --- the NetworkPolicies ---------------------------------------------------------------------------------------------

# daprd's ports in the pod (Dapr 1.18.3 pkg/injector/patcher/sidecar.go: HTTP API, public healthz, metrics, gRPC API,
# internal gRPC), probed below besides each container's own.
DAPRD_PORTS = {3500, 3501, 9090, 50001, 50002}
ELSEWHERE = "another namespace or outside the cluster"
MONITORING = "a pod of the namespace monitoring (Prometheus)"
BILLING = "Deployment/billing-service (namespace billing)"
NAMESPACE_LABELS = {ELSEWHERE: {"kubernetes.io/metadata.name": "elsewhere"},
                    MONITORING: {"kubernetes.io/metadata.name": "monitoring"},
                    BILLING: {"kubernetes.io/metadata.name": "billing"}}
# The ports Prometheus scrapes: the apps' METRICS_PORT (prometheus.io/port) and daprd's metrics port.
METRICS_PORTS = {9464, 9090}
STRANGER = {"app.kubernetes.io/name": "someone-else"}


def dapr_internal_grpc_port():
    """daprd's internal gRPC port, where the other sidecars invoke this one: the injector's default (the pods do not
    set dapr.io/internal-grpc-port), on the container port it names dapr-internal."""
    sidecar = dapr_source("pkg/injector/patcher/sidecar.go")
    match = re.search(r'SidecarInternalGRPCPort\s+int32\s+`annotation:"dapr.io/internal-grpc-port" default:"(\d+)"`',
                      sidecar)
    assert match, "no SidecarInternalGRPCPort in sidecar.go"
    assert re.search(r'SidecarInternalGRPCPortName\s*=\s*"dapr-internal"', dapr_source("pkg/injector/consts/consts.go"))
    return int(match.group(1))


def pod_labels(docs=WITH_LOAD, namespace=NAMESPACE):
    """{kind/name: the labels of its pods}, every workload of the namespace."""
    return {f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["metadata"]["labels"]
            for o in docs if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")
            and o["metadata"].get("namespace") == namespace}


def foreign_pod_labels(source):
    """The labels of a source from another namespace when they are known (billing-service's pods), else None."""
    return pod("billing-service")["metadata"]["labels"] if source == BILLING else None


def selects(selector, labels):
    """A LabelSelector against a pod's labels; {} selects every pod."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        value = labels.get(e["key"])
        if not {"In": value in e.get("values", []), "NotIn": value not in e.get("values", []),
                "Exists": e["key"] in labels, "DoesNotExist": e["key"] not in labels}[e["operator"]]:
            return False
    return True


def ingress_rules(labels, docs=WITH_LOAD):
    """(whether any policy isolates a pod with these labels for ingress, the ingress rules that apply to it)."""
    isolated, rules = False, []
    for policy in objects("NetworkPolicy", docs).values():
        spec = policy["spec"]
        if "Ingress" in spec.get("policyTypes", ["Ingress"]) and selects(spec["podSelector"], labels):
            isolated = True
            rules += spec.get("ingress") or []
    return isolated, rules


def peer_admits(peer, source):
    """Whether a rule's peer may admit the source: a pod of this namespace (its labels), or a pod of another namespace
    (MONITORING, ELSEWHERE: its labels unknown, so any podSelector is taken to admit it). A namespaceSelector is matched
    against the namespace's name label; an ipBlock admits anything."""
    if "ipBlock" in peer:
        return True
    foreign = isinstance(source, str) and source in NAMESPACE_LABELS
    if "namespaceSelector" in peer:
        namespace = NAMESPACE_LABELS[source] if foreign else {"kubernetes.io/metadata.name": NAMESPACE}
        known = foreign_pod_labels(source) if foreign else source
        return selects(peer["namespaceSelector"], namespace) and (known is None
                                                                  or selects(peer.get("podSelector", {}), known))
    return not foreign and selects(peer.get("podSelector", {}), source)


def port_admits(rule_port, port, spec):
    """A NetworkPolicyPort against a TCP port of the pod (a named port is looked up in its containers)."""
    if rule_port.get("protocol", "TCP") != "TCP":
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in {p.get("name") for c in spec["containers"] for p in c.get("ports", [])
                          if p["containerPort"] == port} \
            or (wanted == "dapr-internal" and port == dapr_internal_grpc_port())  # the injected daprd's port name
    return wanted <= port <= rule_port.get("endPort", wanted)


def reaches(source, target, port, docs=WITH_LOAD):
    """Whether a connection from source (pod labels, or ELSEWHERE) to port of the target workload's pods is allowed."""
    template = next(o["spec"]["template"] for o in docs if f"{o['kind']}/{o['metadata']['name']}" == target
                    and o["metadata"].get("namespace") == NAMESPACE)
    isolated, rules = ingress_rules(template["metadata"]["labels"], docs)
    if not isolated:
        return True
    return any((not rule.get("from") or any(peer_admits(p, source) for p in rule["from"]))
               and (not rule.get("ports") or any(port_admits(p, port, template["spec"]) for p in rule["ports"]))
               for rule in rules)


def sources(docs=WITH_LOAD):
    """Every kind of caller: each workload's pods, another pod of the namespace, and anything outside it."""
    return {**pod_labels(docs), "another pod": STRANGER, ELSEWHERE: ELSEWHERE, MONITORING: MONITORING,
            BILLING: BILLING}


def open_ports(target, docs=WITH_LOAD):
    """{port: the callers that reach it} over the target's container ports, daprd's and every port a policy names."""
    template = next(o["spec"]["template"] for o in docs if f"{o['kind']}/{o['metadata']['name']}" == target
                    and o["metadata"].get("namespace") == NAMESPACE)
    ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])} | DAPRD_PORTS
    for policy in objects("NetworkPolicy", docs).values():
        for rule in policy["spec"].get("ingress") or []:
            ports |= {p["port"] for p in rule.get("ports", []) if isinstance(p.get("port"), int)}
    found = {}
    for port in sorted(ports):
        callers = {name for name, labels in sources(docs).items() if reaches(labels, target, port, docs)}
        if callers:
            found[port] = callers
    return found


def test_every_pod_of_the_namespace_is_denied_ingress_by_default():
    deny = [p for p in objects("NetworkPolicy", WITH_LOAD).values()
            if p["spec"]["podSelector"] == {} and "Ingress" in p["spec"].get("policyTypes", [])
            and not p["spec"].get("ingress")]
    assert deny, "no default-deny ingress policy (podSelector {}, policyTypes [Ingress], no rules)"
    for name, labels in {**pod_labels(), "another pod": STRANGER}.items():
        assert ingress_rules(labels)[0], f"{name} is not isolated"


BILLING_PEER = {"namespaceSelector": {"matchLabels": NAMESPACE_LABELS[BILLING]},
                "podSelector": {"matchLabels": {"app": "billing-service"}}}


def test_every_policy_selects_pods_of_the_namespace():
    """A policy whose selector matches no pod (a misspelt label) protects nothing and opens nothing."""
    for name, policy in objects("NetworkPolicy", WITH_LOAD).items():
        assert any(selects(policy["spec"]["podSelector"], labels) for labels in pod_labels().values()), name
        for rule in policy["spec"].get("ingress") or []:
            for peer in rule.get("from") or []:
                if peer == BILLING_PEER:
                    # billing-service's pods, to Redis (its ledger) and Zipkin (its spans) alone.
                    assert name in ("redis", "zipkin"), name
                    continue
                if "namespaceSelector" in peer:
                    # The other peer from elsewhere: Prometheus's namespace, on the metrics ports alone.
                    assert peer == {"namespaceSelector": {"matchLabels": NAMESPACE_LABELS[MONITORING]}}, name
                    assert {p["port"] for p in rule["ports"]} <= METRICS_PORTS, name
                    continue
                assert set(peer) == {"podSelector"}, f"{name}: only pods of this namespace are named"
                assert any(selects(peer["podSelector"], labels) for labels in pod_labels().values()), name


def test_nothing_reaches_notification_services_app_port():
    """Its app port is for its own sidecar only, over localhost in the pod (which no NetworkPolicy governs)."""
    app_port = int(pod("notification-service")["metadata"]["annotations"]["dapr.io/app-port"])
    assert app_port == container("notification-service")["ports"][0]["containerPort"]
    for name, source in sources().items():
        assert not reaches(source, "Deployment/notification-service", app_port), name
    for policy in objects("NetworkPolicy", WITH_LOAD).values():
        if selects(policy["spec"]["podSelector"], pod("notification-service")["metadata"]["labels"]):
            for rule in policy["spec"].get("ingress") or []:
                assert rule.get("ports"), f"{policy['metadata']['name']}: a rule without ports opens {app_port} too"


def test_notification_service_is_reached_only_on_the_internal_grpc_port_by_todo_api_and_scraped_by_prometheus():
    """Service invocation: todo-api's sidecar calls notification-service's sidecar on daprd's internal gRPC port; the
    monitoring namespace's Prometheus reaches the two metrics ports, and nothing else does."""
    assert "dapr.io/internal-grpc-port" not in pod("notification-service")["metadata"]["annotations"]
    assert open_ports("Deployment/notification-service") == {dapr_internal_grpc_port(): {"Deployment/todo-api"},
                                                              **{port: {MONITORING} for port in METRICS_PORTS}}


def test_redis_is_reached_only_by_the_apps():
    port = container("redis")["ports"][0]["containerPort"]
    assert open_ports("Deployment/redis") == {port: {"Deployment/todo-api", "Deployment/notification-service",
                                                     BILLING}}


def test_todo_api_is_reached_only_on_its_public_port_by_anyone_and_scraped_by_prometheus():
    port = int(pod("todo-api")["metadata"]["annotations"]["dapr.io/app-port"])
    assert open_ports("Deployment/todo-api") == {port: set(sources()), **{p: {MONITORING} for p in METRICS_PORTS}}


def test_zipkin_is_reached_only_by_the_apps_pods():
    port = container("zipkin")["ports"][0]["containerPort"]
    assert open_ports("Deployment/zipkin") == {port: {"Deployment/todo-api", "Deployment/notification-service",
                                                      BILLING}}


def test_billing_service_is_reached_only_on_the_internal_grpc_port_by_todo_api_and_scraped_by_prometheus():
    """The namespace billing denies every ingress but daprd's internal gRPC port of billing-service's pods from
    todo-api's pods in todo-dapr (service invocation across the namespace), and the metrics ports from monitoring."""
    policies = objects("NetworkPolicy", WITH_LOAD, namespace="billing")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    labels = pod("billing-service")["metadata"]["labels"]
    rules = [rule for policy in policies.values() if selects(policy["spec"]["podSelector"], labels)
             for rule in policy["spec"].get("ingress") or []]
    todo_api = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                "podSelector": {"matchLabels": {"app": pod("todo-api")["metadata"]["labels"]["app"]}}}
    found = sorted((repr(rule["from"]), sorted(p["port"] for p in rule["ports"])) for rule in rules)
    assert found == sorted([
        (repr([todo_api]), [dapr_internal_grpc_port()]),
        (repr([{"namespaceSelector": {"matchLabels": NAMESPACE_LABELS[MONITORING]}}]), sorted(METRICS_PORTS))])


def test_the_k6_job_reaches_todo_api_through_its_service():
    spec = objects("Job", WITH_LOAD)["k6-create-tasks"]["spec"]["template"]
    url = env_of(spec["spec"]["containers"][0])["TODO_URL"]
    service = objects("Service", WITH_LOAD)[re.match(r"http://([^.:/]+)", url).group(1)]
    assert service["spec"]["selector"].items() <= pod("todo-api")["metadata"]["labels"].items()
    target = service["spec"]["ports"][0]["targetPort"]
    port = next(p["containerPort"] for p in container("todo-api")["ports"] if target in (p["name"], p["containerPort"]))
    assert reaches(spec["metadata"]["labels"], "Deployment/todo-api", port)


# --- Redis -----------------------------------------------------------------------------------------------------------

def redis_args():
    args = container("redis")["args"]
    return {args[i]: args[i + 1] for i in range(0, len(args) - 1) if args[i].startswith("--")}


def test_the_redis_password_is_never_on_a_command_line():
    """`--requirepass $(REDIS_PASSWORD)` puts the password in the process's argv, which anything listing processes on
    the node reads. It must reach redis-server another way: here a config file written from the environment onto a
    memory-backed volume, with redis-server exec'd (PID 1, so SIGTERM reaches it)."""
    redis = container("redis")
    words = redis.get("command", []) + redis.get("args", [])
    assert not any("$(REDIS_PASSWORD)" in w for w in words), "Kubernetes expands $(VAR) into the command line"
    assert "--requirepass" not in words and "requirepass" not in redis.get("args", [])
    script = redis["command"][2]
    assert "requirepass" in script and '"$REDIS_PASSWORD"' in script and "exec redis-server /conf/redis.conf" in script
    conf = next(m for m in redis["volumeMounts"] if m["mountPath"] == "/conf")
    volume = next(v for v in pod("redis")["spec"]["volumes"] if v["name"] == conf["name"])
    assert volume["emptyDir"]["medium"] == "Memory", "the password never reaches a disk"


def test_redis_persists_every_write_in_an_append_only_file_on_a_volume():
    """The outbox's streams and the delivery records are what makes notifications durable: they must outlive Redis's
    container. Its data directory is a volume, and a claim needs one pod at a time (Recreate)."""
    args = redis_args()
    assert args["--appendonly"] == "yes"
    assert args["--appendfsync"] == "always", "everysec answers writes it has not written yet while an fsync is slow"
    data_dir = args.get("--dir", "/data")
    mount = next(m for m in container("redis")["volumeMounts"] if m["mountPath"] == data_dir)
    assert not mount.get("readOnly")
    volume = next(v for v in pod("redis")["spec"]["volumes"] if v["name"] == mount["name"])
    if "persistentVolumeClaim" in volume:
        claim = objects("PersistentVolumeClaim")[volume["persistentVolumeClaim"]["claimName"]]
        assert "ReadWriteOnce" in claim["spec"]["accessModes"] or "ReadWriteOncePod" in claim["spec"]["accessModes"]
        assert deployment("redis")["spec"]["replicas"] == 1
        assert deployment("redis")["spec"]["strategy"]["type"] == "Recreate"
    else:
        assert "emptyDir" in volume, "the data directory is a volume"
    # The data directory is writable by the user Redis runs as.
    assert pod("redis")["spec"]["securityContext"]["fsGroup"] == pod("redis")["spec"]["securityContext"]["runAsGroup"]


# --- the Dockerfiles -------------------------------------------------------------------------------------------------

def root_modules():
    return re.findall(r"<module>([^<]+)</module>", (ROOT / "pom.xml").read_text())


@pytest.mark.parametrize("app", APPS)
def test_dockerfile_builds_only_its_modules_from_a_cached_dependency_layer(app):
    text = dockerfile(app)
    module = APPS[app]["module"]
    # Public base images by default, so the same file builds anywhere.
    assert re.search(r"^ARG BUILD_IMAGE=maven:\S+$", text, re.M)
    assert re.search(r"^ARG RUNTIME_IMAGE=debian:\S+$", text, re.M)
    # Maven reads every module the root pom lists: each pom must be copied, and allowed by .dockerignore.
    dockerignore = (ROOT / ".dockerignore").read_text().split("\n")
    for m in root_modules():
        assert f"COPY {m}/pom.xml {m}/" in text, m
        assert f"!{m}/pom.xml" in dockerignore, m
    lines = text.split("\n")
    first_source = next(i for i, line in enumerate(lines) if re.match(r"COPY \S+/src ", line))
    resolve = next(i for i, line in enumerate(lines) if line.startswith("RUN mvn"))
    assert resolve < first_source, "dependencies are resolved before the sources are copied"
    assert f"-pl {module} -am" in lines[resolve] and "-DskipTests" in lines[resolve]
    build = next(i for i, line in enumerate(lines) if i > first_source and line.startswith("RUN mvn"))
    assert " -o " in lines[build] and f"-pl {module} -am" in lines[build] and "-DskipTests" in lines[build]


@pytest.mark.parametrize("app", APPS)
def test_dockerfile_runtime_stage_is_non_root_exec_form_and_labelled(app):
    runtime = dockerfile(app).split("FROM ${RUNTIME_IMAGE}")[1]
    assert re.search(r"^USER \$\{APP_UID\}:\$\{APP_UID\}$", runtime, re.M)
    entrypoint = re.search(r"^ENTRYPOINT (\[.*?\])$", runtime, re.M | re.S).group(1)
    assert entrypoint.startswith('["java"'), "exec form: java is PID 1 and gets SIGTERM"
    for flag in ("-XX:MaxRAMPercentage=75", "-XX:+ExitOnOutOfMemoryError", "-jar", "/app/app.jar"):
        assert flag in entrypoint
    for label in ("title", "description", "version", "revision"):
        assert f"org.opencontainers.image.{label}=" in runtime
    assert "mvn" not in runtime and "apt-get" not in runtime
    assert "COPY --from=build /opt/java /opt/java" in runtime, "the jlinked runtime, not a whole JRE"


# --- the k6 Job ------------------------------------------------------------------------------------------------------

def test_the_k6_job_runs_the_scripts_of_load_unchanged():
    job = objects("Job", WITH_LOAD)["k6-create-tasks"]
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["args"][-1] == "/scripts/create-tasks.js"
    config_map = next(o for o in WITH_LOAD if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("k6-scripts"))
    assert "create-tasks.js" in config_map["data"]
    for name, text in config_map["data"].items():
        assert text == (ROOT / "load" / name).read_text(), f"manifests/components/k6-load/{name} differs from load/{name}"
    mounted = {v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v}
    assert mounted == {config_map["metadata"]["name"]}
    assert env_of(spec["containers"][0])["TODO_URL"].startswith("http://todo-api.")
    assert "k6-create-tasks" not in objects("Job"), "the load Job is only in the with-load overlay"


def test_a_script_change_leaves_the_k6_jobs_template_unchanged(tmp_path):
    # A Job's pod template is immutable: were the scripts' ConfigMap name hashed into it, `kubectl apply` after a
    # script change would fail. Render a copy of the Component with a changed script and compare the Jobs.
    import shutil
    copy = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", copy)
    (copy / "components/k6-load/create-tasks.js").write_text("// changed\n")
    changed = [d for d in yaml.safe_load_all(subprocess.run(
        [os.environ.get("KUSTOMIZE", "kustomize"), "build", str(copy / "overlays/with-load")],
        check=True, capture_output=True, text=True).stdout) if d]
    assert objects("ConfigMap", changed)["k6-scripts"]["data"] != objects("ConfigMap", WITH_LOAD)["k6-scripts"]["data"]
    assert objects("Job", changed)["k6-create-tasks"] == objects("Job", WITH_LOAD)["k6-create-tasks"]


def test_the_k6_job_is_never_deleted_before_its_summary_is_read_and_learns_the_replicas():
    job = objects("Job", WITH_LOAD)["k6-create-tasks"]
    assert "ttlSecondsAfterFinished" not in job["spec"]
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    # Pod names cannot be listed in a manifest: the script learns them (load/create-tasks.js setup()).
    assert "REPLICAS" not in env
    assert int(env["EXPECT_REPLICAS"]) == deployment("notification-service")["spec"]["replicas"]
    assert env["K6_NO_USAGE_REPORT"] == "true", "k6 would report usage to stats.grafana.org from inside the cluster"


# --- images ----------------------------------------------------------------------------------------------------------

def project_version():
    return re.search(r"^  <version>([^<]+)</version>$", (ROOT / "pom.xml").read_text(), re.M).group(1)


LOCAL = render("manifests/overlays/local")
LOCAL_WITH_LOAD = render("manifests/overlays/local-with-load")


def images(docs):
    return {c["image"] for o in docs if o["kind"] in ("Deployment", "Job")
            for c in o["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize("docs", [BASE, WITH_LOAD, LOCAL, LOCAL_WITH_LOAD], ids=["base", "with-load", "local", "local-with-load"])
def test_every_image_has_a_version_tag_never_latest(docs):
    for image in images(docs):
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and re.match(r"^\d", tag), image


def test_the_app_images_are_tagged_with_the_projects_version_as_build_images_tags_them():
    version = project_version()
    assert {f"todo-api:{version}", f"notification-service:{version}", f"billing-service:{version}"} <= images(BASE)
    assert "tag=${app#*:}:$version" in (ROOT / "scripts/build-images.sh").read_text()


def test_the_local_overlays_name_exactly_the_images_built_and_loaded_here():
    version = project_version()
    assert images(LOCAL) == {f"todo-api:{version}", f"notification-service:{version}", f"billing-service:{version}",
                             "local/redis:7.0", "local/zipkin:3.5.1"}
    assert images(LOCAL_WITH_LOAD) == images(LOCAL) | {"local/k6:2.1.0"}
    built = (ROOT / "scripts/build-images.sh").read_text()
    assert "-t local/redis:7.0" in built and "binary_image k6 2.1.0" in built and "-t local/zipkin:3.5.1" in built
    assert "ZIPKIN_VERSION=3.5.1" in (ROOT / "scripts/setup-zipkin.sh").read_text()
    loaded = (ROOT / "scripts/cluster.sh").read_text()
    for image in images(LOCAL_WITH_LOAD):
        name, tag = image.split(":")
        assert image in loaded or f"{name}:${{version}}" in loaded or f"{name}:$version" in loaded, image
    # Everything but the images is manifests/ as it is.
    def without_images(docs):
        out = yaml.safe_dump_all(docs, sort_keys=True)
        return re.sub(r"image: \S+", "image: X", out)
    assert without_images(LOCAL) == without_images(BASE)


def _go_seconds(value):
    m = re.fullmatch(r"(\d+)s", str(value))
    assert m, f"{value!r}: whole seconds (the SQLite resolver truncates anything finer)"
    return int(m.group(1))


def test_the_embedded_name_resolver_renews_each_row_with_a_second_to_spare():
    # The SQLite resolver renews a row every updateInterval - timeout (- 1 ns) and a lookup skips it once
    # unixepoch(now) - last_update >= updateInterval, in whole seconds: the renewal may be late by up to timeout - 1 s
    # before a live sidecar is skipped. With timeout 1s that is nothing (ERR_DIRECT_INVOKE "no host found", seen in CI).
    config = yaml.safe_load((ROOT / "dapr/config.yaml").read_text())["spec"]["nameResolution"]
    assert config["component"] == "sqlite"
    update = _go_seconds(config["configuration"]["updateInterval"])
    timeout = _go_seconds(config["configuration"]["timeout"])
    assert update - timeout >= 1, "the resolver refuses updateInterval - timeout < 1s"
    assert timeout - 1 >= 1, f"a renewal may be only {timeout - 1} s late before a live sidecar is unresolvable"
    assert str(config["configuration"]["cleanupInterval"]) == "0", "the cleanup deletes the live rows (dapr/dapr#8507)"
