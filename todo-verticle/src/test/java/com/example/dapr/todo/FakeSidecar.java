package com.example.dapr.todo;

import com.example.dapr.http.Env;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A stand-in for the Dapr sidecar's HTTP API: a real Vert.x HTTP server on a random loopback port that implements
 * {@code /v1.0/state/{store}} (first-write concurrency, ETags), {@code /v1.0/state/{store}/transaction} with the
 * transactional outbox ({@code outbox.projection} upserts are published, not stored), {@code /v1.0/invoke/{app}/method/
 * {method}}, the {@code dapr-app-id} header form and {@code /v1.0/healthz/outbound} the way daprd 1.18 answers them
 * (its error codes and statuses are re-checked against the real sidecar by the e2e layer), records every request, and
 * fails on demand. What notification-service would have received is kept by notification id: the receiving end.
 * todo-api's outbox self-check ({@link OutboxCheck}, keys {@code outbox-check-*}) is recorded apart from everything
 * else, so that what a test counts is what its own requests caused. {@link #withoutOutbox} makes it a plain store.
 */
final class FakeSidecar {

  /** How the fake answers a kind of call. */
  enum Mode { OK, FAIL, HANG }

  /** One request as the fake received it. */
  record Received(String method, String path, MultiMap headers, Buffer body) {
    JsonObject json() {
      return body.toJsonObject();
    }
  }

  static final String STORE = "statestore";
  static final String APP_ID = "notification-service";
  static final String BILLING_APP_ID = "billing-service";

  private final Map<String, StoredValue> store = new ConcurrentHashMap<>();
  private final AtomicLong etags = new AtomicLong();
  private final List<Received> received = new CopyOnWriteArrayList<>();
  private final List<HttpServerRequest> hanging = new CopyOnWriteArrayList<>();
  private final java.util.concurrent.atomic.AtomicInteger abandoned = new java.util.concurrent.atomic.AtomicInteger();
  private HttpServer server;

  volatile Mode stateMode = Mode.OK;
  volatile Mode invokeMode = Mode.OK;
  volatile Mode healthMode = Mode.OK;
  /** How many of the next invocations fail as daprd does when the target replica's app is down. */
  final java.util.concurrent.atomic.AtomicInteger appDownFor = new java.util.concurrent.atomic.AtomicInteger();
  /** When set, the next invocation is answered as a replica answers while another one is delivering it (409). */
  volatile boolean inProgressOnNextInvoke;
  /** When set, the next invocation is answered 200 with an empty body, as daprd did for a replica killed mid-call. */
  volatile boolean emptyAnswerOnNextInvoke;
  /** When set, invocations wait unanswered until {@link #releaseHeld()}, which then delivers them. */
  volatile boolean holdInvocations;
  private final List<Runnable> held = new CopyOnWriteArrayList<>();
  /** When set, the next conditional save fails because another writer changes the value first. */
  volatile boolean conflictOnNextSave;
  /** When set, writes fail as a failing store does (500) while reads work. */
  volatile boolean writesFail;
  /**
   * Redis's behaviour: a transaction refused for a stale ETag does not roll back the outbox marker, so its event is
   * published all the same (a phantom). Off: the in-memory store's, where a refused transaction publishes nothing.
   */
  volatile boolean publishRefusedTransactions;
  /**
   * A state store component without outboxPublishPubsub/outboxPublishTopic: Dapr then passes a transaction's
   * operations to the store as they came (pkg/api/http/http.go:1618-1643), so a projection is one more upsert.
   */
  volatile boolean withoutOutbox;

  private final List<Received> outboxCheckCalls = new CopyOnWriteArrayList<>();
  private final List<JsonObject> outboxCheckEvents = new CopyOnWriteArrayList<>();
  private volatile boolean outboxCheckRefused;

  private final List<JsonObject> published = new CopyOnWriteArrayList<>();
  private final List<String> deliveredIds = new CopyOnWriteArrayList<>();
  /** What billing-service's ledger would hold: each charge received, by charge id, in order, repeats included. */
  private final List<String> chargeIds = new CopyOnWriteArrayList<>();
  /** How billing-service's sidecar answers: FAIL as daprd does when no billing-service replica is up. */
  volatile Mode billingMode = Mode.OK;

  private record StoredValue(JsonObject value, String etag) {
  }

  Future<FakeSidecar> start(Vertx vertx) {
    server = vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      Received call = new Received(request.method().name(), request.path(), MultiMap.caseInsensitiveMultiMap()
        .addAll(request.headers()), body);
      boolean check = isOutboxCheck(call);
      (check ? outboxCheckCalls : received).add(call);
      if (check) {
        request.response().endHandler(v -> {
          if (request.response().getStatusCode() / 100 == 4) {
            outboxCheckRefused = true;
          }
        });
      }
      route(request, body);
    }));
    return server.listen(0, "127.0.0.1").map(this);
  }

  int port() {
    return server.actualPort();
  }

  /**
   * todo-api's configuration against this sidecar, with the unit tests' defaults (any free port, fast retries, a quick
   * stop) and {@code overrides} (name, value, ...).
   */
  TodoConfig todoApiConfig(String... overrides) {
    Map<String, String> env = new HashMap<>(Map.of("APP_PORT", "0",
      "DAPR_HTTP_PORT", String.valueOf(port()), "RETRY_INITIAL_DELAY_MS", "5", "RETRY_MAX_DELAY_MS", "20",
      "SHUTDOWN_DELAY_MS", "0"));
    for (int i = 0; i < overrides.length; i += 2) {
      env.put(overrides[i], overrides[i + 1]);
    }
    return TodoConfig.from(new Env(env));
  }

  private void route(HttpServerRequest request, Buffer body) {
    String path = request.path();
    if (path.equals("/v1.0/healthz/outbound")) {
      respond(request, healthMode, () -> request.response().setStatusCode(204).end(),
        "ERR_HEALTH_NOT_READY", "dapr is not ready");
    } else if (path.startsWith("/v1.0/state/")) {
      state(request, body, path.substring("/v1.0/state/".length()));
    } else if (path.startsWith("/v1.0/invoke/")) {
      String[] parts = path.substring("/v1.0/invoke/".length()).split("/method/", 2);
      invoke(request, body, parts[0]);
    } else if (request.getHeader("dapr-app-id") != null) {
      invoke(request, body, request.getHeader("dapr-app-id"));
    } else {
      error(request, 404, "ERR_NOT_FOUND", "no route " + path);
    }
  }

  private void state(HttpServerRequest request, Buffer body, String rest) {
    int slash = rest.indexOf('/');
    String storeName = slash < 0 ? rest : rest.substring(0, slash);
    if (!storeName.equals(STORE)) {
      error(request, 400, "ERR_STATE_STORE_NOT_FOUND", "state store " + storeName + " is not found");
      return;
    }
    if (request.method().name().equals("POST") && rest.equals(storeName + "/transaction")) {
      respond(request, stateMode, () -> transaction(request, body),
        "ERR_STATE_TRANSACTION", "error while executing state transaction: connection refused");
      return;
    }
    if (request.method().name().equals("DELETE") && slash > 0) {
      respond(request, stateMode, () -> {
        store.remove(rest.substring(slash + 1));
        request.response().setStatusCode(204).end();
      }, "ERR_STATE_DELETE", "failed deleting state with key " + rest.substring(slash + 1) + ": connection refused");
    } else if (request.method().name().equals("GET") && slash > 0) {
      String key = rest.substring(slash + 1);
      respond(request, stateMode, () -> {
        StoredValue stored = store.get(key);
        if (stored == null) {
          request.response().setStatusCode(204).end();
        } else {
          String text = stored.value().getString(TEXT);
          request.response().putHeader("ETag", stored.etag()).putHeader("Content-Type", "application/json")
            .end(text != null ? io.vertx.core.json.Json.encode(text) : stored.value().encode());
        }
      }, "ERR_STATE_GET", "fail to get " + key + " from state store " + STORE + ": connection refused");
    } else {
      respond(request, stateMode, () -> save(request, body),
        "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": connection refused");
    }
  }

  private void save(HttpServerRequest request, Buffer body) {
    if (writesFail) {
      error(request, 500, "ERR_STATE_SAVE", "failed saving state in state store " + STORE + ": connection reset");
      return;
    }
    for (Object raw : body.toJsonArray()) {
      JsonObject item = (JsonObject) raw;
      if (refused(item)) {
        error(request, 409, "ERR_STATE_SAVE", "failed saving state in state store " + STORE
          + ": possible etag mismatch. error from state store: ETag mismatch");
        return;
      }
      store.put(item.getString("key"), new StoredValue(item.getJsonObject("value"),
        String.valueOf(etags.incrementAndGet())));
    }
    request.response().setStatusCode(204).end();
  }

  /**
   * Whether the store refuses {@code item}: a stale ETag, or first-write concurrency without an ETag on a key that
   * has a value (an insert of a taken key). {@link #conflictOnNextSave} makes another writer change the key first.
   */
  private boolean refused(JsonObject item) {
    String key = item.getString("key");
    String etag = item.getString("etag");
    JsonObject options = item.getJsonObject("options");
    boolean firstWrite = options != null && "first-write".equals(options.getString("concurrency"));
    if (etag != null && conflictOnNextSave) {
      conflictOnNextSave = false;
      StoredValue current = store.get(key);
      if (current != null) {
        store.put(key, new StoredValue(current.value(), String.valueOf(etags.incrementAndGet())));
      }
      return true;
    }
    StoredValue current = store.get(key);
    return etag != null ? current == null || !current.etag().equals(etag) : firstWrite && current != null;
  }

  /** {@code POST .../transaction}: all upserts or none; the projections are published once it commits. */
  private void transaction(HttpServerRequest request, Buffer body) {
    if (writesFail) {
      error(request, 500, "ERR_STATE_TRANSACTION", "error while executing state transaction: connection reset");
      return;
    }
    List<JsonObject> saves = new java.util.ArrayList<>();
    List<JsonObject> projections = new java.util.ArrayList<>();
    for (Object raw : body.toJsonObject().getJsonArray("operations")) {
      JsonObject operation = (JsonObject) raw;
      JsonObject item = operation.getJsonObject("request");
      JsonObject metadata = item.getJsonObject("metadata", new JsonObject());
      boolean projection = "true".equals(metadata.getString("outbox.projection"));
      (projection && !withoutOutbox ? projections : saves).add(item);
    }
    for (JsonObject item : saves) {
      if (refused(item)) {
        if (publishRefusedTransactions) {
          projections.forEach(this::publish);
        }
        // daprd 1.18 answers a stale ETag in a transaction with 500 on the in-memory store and on Redis.
        error(request, 500, "ERR_STATE_TRANSACTION", "error while executing state transaction: possible etag "
          + "mismatch. error from state store: state etag not match for key=todo-api||" + item.getString("key"));
        return;
      }
    }
    for (JsonObject item : saves) {
      // A value that is not a JSON object (the self-check's projection is text) is kept as a JSON string.
      Object value = item.getValue("value");
      store.put(item.getString("key"), new StoredValue(value instanceof JsonObject object ? object
        : new JsonObject().put(TEXT, String.valueOf(value)), String.valueOf(etags.incrementAndGet())));
    }
    projections.forEach(this::publish);
    request.response().setStatusCode(204).end();
  }

  /** The CloudEvent Dapr's outbox publishes for a projection, as its subscriber receives it. */
  private void publish(JsonObject projection) {
    Object data = projection.getValue("value");
    boolean check = projection.getString("key").startsWith(OutboxCheck.KEY_PREFIX);
    (check ? outboxCheckEvents : published).add(new JsonObject().put("id", "outbox-" + java.util.UUID.randomUUID())
      .put("source", "todo-api").put("type", "com.dapr.event.sent").put("specversion", "1.0")
      .put("datacontenttype", data instanceof JsonObject ? "application/json" : "text/plain")
      .put("topic", "notifications").put("pubsubname", "pubsub").put("data", data));
  }

  /** Marks a stored value that is a JSON string, not an object; {@link #state} answers it as the string. */
  private static final String TEXT = "__text";

  private static boolean isOutboxCheck(Received call) {
    if (call.path().contains("/" + OutboxCheck.KEY_PREFIX)) {
      return true;
    }
    if (!call.path().endsWith("/transaction")) {
      return false;
    }
    try {
      JsonArray operations = call.json().getJsonArray("operations");
      return operations != null && !operations.isEmpty() && operations.getJsonObject(0).getJsonObject("request")
        .getString("key", "").startsWith(OutboxCheck.KEY_PREFIX);
    } catch (RuntimeException notJson) {
      return false;
    }
  }

  /** The self-check's calls (transaction, read back, delete), in order. */
  List<Received> outboxCheckCalls() {
    return List.copyOf(outboxCheckCalls);
  }

  /**
   * Whether the self-check has finished (it deletes its key once it has read it back) or had a 4xx answer, which it
   * keeps getting (an unknown store).
   */
  boolean outboxCheckFinished() {
    return outboxCheckRefused || outboxCheckCalls.stream().anyMatch(r -> r.method().equals("DELETE"));
  }

  /**
   * Waits (at most 10 s, polling on Vert.x's timer) until todo-api's self-check has finished, so that a test's own
   * requests and the failures it sets up never meet it.
   */
  void awaitOutboxCheck(Vertx vertx) throws Exception {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    while (!outboxCheckFinished()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("todo-api's outbox self-check did not finish within 10 s: " + outboxCheckCalls);
      }
      vertx.timer(10).await(30, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  /** The CloudEvents the outbox published for the self-check. */
  List<JsonObject> outboxCheckEvents() {
    return List.copyOf(outboxCheckEvents);
  }

  private void invoke(HttpServerRequest request, Buffer body, String appId) {
    if (appId.equals(BILLING_APP_ID)) {
      respond(request, billingMode, () -> charge(request, body), "ERR_DIRECT_INVOKE", "failed to invoke, id: "
        + BILLING_APP_ID + ", err: connection refused");
      return;
    }
    if (!appId.equals(APP_ID)) {
      error(request, 500, "ERR_DIRECT_INVOKE", "failed to invoke, id: " + appId + ", err: app not found");
      return;
    }
    if (appDownFor.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      // daprd 1.18's answer when the target sidecar cannot connect to its app.
      error(request, 500, "ERR_DIRECT_INVOKE", "failed to invoke, id: " + APP_ID + ", err: rpc error: code = Internal"
        + " desc = error invoking app channel: Post \"http://127.0.0.1:8002/notify\": dial tcp 127.0.0.1:8002: connect:"
        + " connection refused");
      return;
    }
    if (inProgressOnNextInvoke) {
      inProgressOnNextInvoke = false;
      request.response().setStatusCode(409).putHeader("Content-Type", "application/json").end(new JsonObject()
        .put("error", "NOTIFICATION_IN_PROGRESS").put("message", "being delivered by notification-2").encode());
      return;
    }
    if (emptyAnswerOnNextInvoke) {
      emptyAnswerOnNextInvoke = false;
      request.response().setStatusCode(200).end();
      return;
    }
    if (holdInvocations) {
      held.add(() -> respond(request, Mode.OK, () -> deliver(request, body), null, null));
      return;
    }
    respond(request, invokeMode, () -> deliver(request, body),
      "ERR_DIRECT_INVOKE", "failed to invoke, id: " + APP_ID + ", err: connection refused");
  }

  /** How many invocations wait for {@link #releaseHeld()}. */
  int heldCount() {
    return held.size();
  }

  /** Answers every held invocation as a replica that delivered it, and stops holding new ones. */
  void releaseHeld() {
    holdInvocations = false;
    List<Runnable> now = List.copyOf(held);
    held.clear();
    now.forEach(Runnable::run);
  }

  private void deliver(HttpServerRequest request, Buffer body) {
    {
      JsonObject notification = body.toJsonObject();
      deliveredIds.add(String.valueOf(notification.getString("notification_id")));
      request.response().putHeader("Content-Type", "application/json").end(new JsonObject()
        .put("status", "delivered").put("message", notification.getString("message")).put("replica", "fake-1")
        .encode());
    }
  }

  /** billing-service's answer: the first charge of an id, also for a repeat, which it does not record again. */
  private void charge(HttpServerRequest request, Buffer body) {
    JsonObject charge = body.toJsonObject();
    String chargeId = String.valueOf(charge.getString("charge_id"));
    boolean repeat = chargeIds.contains(chargeId);
    chargeIds.add(chargeId);
    request.response().putHeader("Content-Type", "application/json").end(charge.copy().put("status", "charged")
      .put("replica", "fake-billing-1").put("duplicate", repeat).encode());
  }

  private void respond(HttpServerRequest request, Mode mode, Runnable ok, String errorCode, String message) {
    switch (mode) {
      case OK -> ok.run();
      case FAIL -> error(request, 500, errorCode, message);
      case HANG -> {
        hanging.add(request);
        // Left unanswered: only the caller can end it, by giving up on it and closing the connection.
        request.connection().closeHandler(v -> abandoned.incrementAndGet());
      }
    }
  }

  /** How many of the calls left hanging the caller gave up on (it closed their connection). */
  int abandoned() {
    return abandoned.get();
  }

  private static void error(HttpServerRequest request, int status, String code, String message) {
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
      .end(new JsonObject().put("errorCode", code).put("message", message).encode());
  }

  void put(String key, JsonObject value) {
    store.put(key, new StoredValue(value, String.valueOf(etags.incrementAndGet())));
  }

  JsonObject value(String key) {
    StoredValue stored = store.get(key);
    return stored == null ? null : stored.value();
  }

  String etag(String key) {
    StoredValue stored = store.get(key);
    return stored == null ? null : stored.etag();
  }

  int storedCount() {
    return store.size();
  }

  List<Received> received() {
    return List.copyOf(received);
  }

  /** Every write: saves and transactions. */
  List<Received> stateSaves() {
    return received.stream().filter(r -> r.method().equals("POST") && r.path().startsWith("/v1.0/state/"))
      .collect(Collectors.toList());
  }

  List<Received> transactions() {
    return received.stream().filter(r -> r.method().equals("POST") && r.path().endsWith("/transaction"))
      .collect(Collectors.toList());
  }

  /** The CloudEvents the outbox published, oldest first. */
  List<JsonObject> published() {
    return List.copyOf(published);
  }

  /** What the notification-service behind this sidecar received and answered, by notification id, in order. */
  List<String> deliveredIds() {
    return List.copyOf(deliveredIds);
  }

  /** How many times notification {@code id} was received. */
  long deliveries(String id) {
    return deliveredIds.stream().filter(id::equals).count();
  }

  /** Every invocation of notification-service. */
  List<Received> invocations() {
    return received.stream().filter(r -> r.path().startsWith("/v1.0/invoke/" + APP_ID + "/")
      || APP_ID.equals(r.headers().get("dapr-app-id"))).collect(Collectors.toList());
  }

  /** Every invocation of billing-service. */
  List<Received> billingInvocations() {
    return received.stream().filter(r -> r.path().startsWith("/v1.0/invoke/" + BILLING_APP_ID + "/")
      || BILLING_APP_ID.equals(r.headers().get("dapr-app-id"))).collect(Collectors.toList());
  }

  /** How many times billing-service received charge {@code chargeId}. */
  long charges(String chargeId) {
    return chargeIds.stream().filter(chargeId::equals).count();
  }

  /** Every charge id billing-service received, in order, repeats included. */
  List<String> chargeIds() {
    return List.copyOf(chargeIds);
  }

  /** Every request except health checks: what a rejected client request must never cause. */
  List<Received> dataCalls() {
    return received.stream().filter(r -> !r.path().startsWith("/v1.0/healthz")).collect(Collectors.toList());
  }

  JsonArray keys() {
    return new JsonArray(List.copyOf(store.keySet()));
  }
}
