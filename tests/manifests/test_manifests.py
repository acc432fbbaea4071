"""The rules manifests/ must keep, checked on what `kustomize build` renders, so that they cannot drift:
schemas (Kubernetes, strict; Dapr's CRDs), Dapr annotations, ports matching the Dockerfiles and the apps' defaults,
probes, resources, the restricted Pod Security Standard, the Dapr resources, and the k6 Job's scripts."""
import os
import pathlib
import re
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.33.0"
APPS = {"todo-api": ("todo-verticle/src/main/java/com/example/dapr/todo/TodoConfig.java", "Dockerfile.todo"),
        "notification-service": ("notification-verticle/src/main/java/com/example/dapr/notification/NotificationConfig.java",
                                 "Dockerfile.notification")}


def render(path):
    out = subprocess.run([os.environ.get("KUSTOMIZE", "kustomize"), "build", str(ROOT / path)],
                         check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


BASE = render("manifests")
WITH_LOAD = render("manifests/overlays/with-load")


def objects(kind, docs=BASE):
    return {o["metadata"]["name"]: o for o in docs if o["kind"] == kind}


def deployment(name):
    return objects("Deployment")[name]


def pod(name):
    return deployment(name)["spec"]["template"]


def container(name):
    return pod(name)["spec"]["containers"][0]


def is_dapr(obj):
    return obj["apiVersion"].startswith("dapr.io/")


# --- schemas -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("obj", [o for o in WITH_LOAD if not is_dapr(o)], ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_kubernetes_objects_pass_the_schemas_strictly(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def crd_schemas():
    schemas = {}
    for path in pathlib.Path(os.environ["DAPR_CRDS"]).glob("*.yaml"):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                for version in crd["spec"]["versions"]:
                    schemas[(crd["spec"]["group"] + "/" + version["name"], crd["spec"]["names"]["kind"])] = \
                        version["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(value, schema, path=""):
    """Fields the structural schema does not declare: the API server would silently prune them."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key in schema["properties"]:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
            elif "additionalProperties" not in schema:
                found.append(f"{path}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            found += unknown_fields(item, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


@pytest.mark.parametrize("obj", [o for o in BASE if is_dapr(o)], ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_dapr_objects_pass_the_crd_schemas_of_dapr_1_18_3(obj):
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    jsonschema.validate(obj, schema)
    assert unknown_fields(obj, schema) == []


# --- the apps ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("app", APPS)
def test_app_port_agrees_everywhere(app):
    config, dockerfile = APPS[app]
    default = int(re.search(r'env\.number\("APP_PORT", (\d+)', (ROOT / config).read_text()).group(1))
    exposed = int(re.search(r"^EXPOSE (\d+)$", (ROOT / dockerfile).read_text(), re.M).group(1))
    annotations = pod(app)["metadata"]["annotations"]
    c = container(app)
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    assert default == exposed == int(annotations["dapr.io/app-port"]) == c["ports"][0]["containerPort"] \
        == int(env["APP_PORT"])
    service = objects("Service")[app]
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == c["ports"][0]["name"]


@pytest.mark.parametrize("app", APPS)
def test_dapr_annotations(app):
    annotations = pod(app)["metadata"]["annotations"]
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == app
    assert annotations["dapr.io/enable-api-logging"] == "true"
    assert annotations["dapr.io/config"] in objects("Configuration")
    for key in ("sidecar-cpu-request", "sidecar-cpu-limit", "sidecar-memory-request", "sidecar-memory-limit",
                "graceful-shutdown-seconds", "app-health-check-path"):
        assert f"dapr.io/{key}" in annotations, key
    assert annotations["dapr.io/enable-app-health-check"] == "true"
    assert annotations["dapr.io/sidecar-seccomp-profile-type"] == "RuntimeDefault"


@pytest.mark.parametrize("app", APPS)
def test_probes_on_the_health_routes(app):
    c = container(app)
    assert c["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"


@pytest.mark.parametrize("name", ["todo-api", "notification-service", "redis"])
def test_resources_and_the_restricted_security_context(name):
    spec = pod(name)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    for c in spec["containers"]:
        assert set(c["resources"]["requests"]) == {"cpu", "memory"}
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
    namespace = objects("Namespace")["todo-dapr"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("app", APPS)
def test_the_jvm_gets_a_writable_tmp_and_runs_as_the_image_user(app):
    mounts = {m["mountPath"]: m["name"] for m in container(app)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod(app)["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    uid = int(re.search(r"^ARG APP_UID=(\d+)$", (ROOT / APPS[app][1]).read_text(), re.M).group(1))
    assert pod(app)["spec"]["securityContext"]["runAsUser"] == uid


def test_notification_service_runs_three_replicas_behind_a_disruption_budget():
    assert deployment("notification-service")["spec"]["replicas"] == 3
    pdb = objects("PodDisruptionBudget")["notification-service"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod("notification-service")["metadata"]["labels"].items()
    assert 1 <= pdb["spec"]["minAvailable"] < 3


# --- the Dapr resources --------------------------------------------------------------------------------------------

def test_the_state_store_is_redis_scoped_to_todo_api_with_its_password_from_a_secret():
    component = objects("Component")["statestore"]
    assert component["spec"]["type"] == "state.redis"
    assert component["scopes"] == ["todo-api"]
    assert component["auth"]["secretStore"] == "kubernetes"
    metadata = {m["name"]: m for m in component["spec"]["metadata"]}
    ref = metadata["redisPassword"]["secretKeyRef"]
    assert ref["key"] in objects("Secret")[ref["name"]]["data"]
    assert metadata["redisHost"]["value"].split(":")[0] in objects("Service")


def test_only_todo_api_may_post_notify_on_notification_service():
    config = objects("Configuration")[pod("notification-service")["metadata"]["annotations"]["dapr.io/config"]]
    acl = config["spec"]["accessControl"]
    assert acl["defaultAction"] == "deny"
    assert [p["appId"] for p in acl["policies"]] == ["todo-api"]
    policy = acl["policies"][0]
    assert policy["defaultAction"] == "deny"
    assert policy["operations"] == [{"name": "/notify", "httpVerb": ["POST"], "action": "allow"}]
    for config in objects("Configuration").values():
        # Access control reads the callers' mTLS identities: nothing here may turn mTLS off.
        assert config["spec"].get("mtls", {}).get("enabled", True) is True


def test_resiliency_agrees_with_the_apps_own_timeouts_and_breaker():
    resiliency = objects("Resiliency")["todo-api-resiliency"]
    policies, targets = resiliency["spec"]["policies"], resiliency["spec"]["targets"]
    env = {e["name"]: e["value"] for e in container("todo-api")["env"]}
    app = targets["apps"]["notification-service"]
    assert "retry" not in app, "a notification is not idempotent: no retries on the app target"
    assert policies["timeouts"][app["timeout"]] == f"{int(env['NOTIFY_TIMEOUT_MS']) // 1000}s"
    breaker = policies["circuitBreakers"][app["circuitBreaker"]]
    assert breaker["trip"] == f"consecutiveFailures >= {env['BREAKER_MAX_FAILURES']}"
    assert breaker["timeout"] == f"{int(env['BREAKER_RESET_MS']) // 1000}s"
    store = targets["components"]["statestore"]["outbound"]
    assert policies["timeouts"][store["timeout"]] == f"{int(env['STATE_TIMEOUT_MS']) // 1000}s"
    assert "retry" not in store, "todo-api retries state calls itself"
    assert resiliency["scopes"] == ["todo-api"]


# --- the k6 Job ----------------------------------------------------------------------------------------------------

def test_the_k6_job_runs_the_scripts_of_load_unchanged():
    job = objects("Job", WITH_LOAD)["k6-create-tasks"]
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["args"][-1] == "/scripts/create-tasks.js"
    config_map = next(o for o in WITH_LOAD if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("k6-scripts"))
    for name, text in config_map["data"].items():
        assert text == (ROOT / "load" / name).read_text(), f"manifests/components/k6-load/{name} differs from load/{name}"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert "k6-create-tasks" not in objects("Job")
