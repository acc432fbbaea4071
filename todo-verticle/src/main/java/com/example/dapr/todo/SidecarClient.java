package com.example.dapr.todo;

import com.example.dapr.todo.SidecarException.Kind;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerOptions;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.circuitbreaker.FailurePolicy;
import io.vertx.circuitbreaker.OpenCircuitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpResponseExpectation;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.net.ConnectException;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Every call todo-api makes to its Dapr sidecar's HTTP API: state save and get, service invocation, health.
 * One {@link WebClient} with an explicit pool; each target (the state store, the invoked app) behind its own
 * {@link CircuitBreaker}; a timeout on every attempt; retries (the breaker's own, {@link RetryGate}) with jittered
 * backoff only for idempotent calls and for notifications that never reached a replica. Each failure a breaker counts
 * is logged with its cause and counted by cause ({@link BreakerFailures}).
 */
public final class SidecarClient {

  private static final Logger LOG = Logger.getLogger(SidecarClient.class.getName());

  private final Vertx vertx;
  private final TodoConfig.Sidecar config;
  private final TodoConfig.Resilience resilience;
  private final TodoConfig.Notifications notifications;
  /** State calls and invocations have a pool of connections each, so that slow invocations never hold up a save. */
  private final WebClient stateClient;
  private final WebClient invokeClient;
  private final CircuitBreaker stateBreaker;
  private final CircuitBreaker invokeBreaker;
  private final BreakerFailures stateFailures;
  private final BreakerFailures invokeFailures;
  private final String statePath;
  private final String invokePath;
  private final String invokeTarget;

  SidecarClient(Vertx vertx, TodoConfig all) {
    this.vertx = vertx;
    this.config = all.sidecar();
    this.resilience = all.resilience();
    this.notifications = all.notifications();
    // A bulkhead: one pool for the state store, one for notification-service. With one pool, a notification-service
    // slower than usual (a cold JVM: invocations near NOTIFY_TIMEOUT_MS) held every connection, saves queued behind
    // them past STATE_TIMEOUT_MS, and the state breaker opened: 41-67% of 150 POST /tasks/s against a freshly started
    // system failed with 503 CIRCUIT_OPEN on this project's 2-core machine, though the store answered in ms.
    this.stateClient = webClient(vertx, "dapr-state");
    this.invokeClient = webClient(vertx, "dapr-invoke");
    this.invokeTarget = notifications.appId() + "/" + notifications.method();
    this.stateFailures = failures(stateBreakerName());
    this.invokeFailures = failures(invokeBreakerName());
    // Every failure of a state call counts: the store is behind the local sidecar, so any failure is the sidecar's or
    // the store's, the two things this breaker stands for.
    this.stateBreaker = breaker(stateBreakerName(), stateFailures, resilience.stateRetries(), failure -> true);
    // notification-service counts as failing only by failures of notification-service as a whole (NotifyFailures):
    // one replica gone must not cut the healthy replicas off with the dead one.
    this.invokeBreaker = breaker(invokeBreakerName(), invokeFailures, resilience.notifyUndeliveredRetries(),
      new NotifyFailures(resilience.breakerWindowMs(), System::currentTimeMillis));
    this.statePath = "/v1.0/state/" + config.stateStore();
    this.invokePath = notifications.invokeMode() == TodoConfig.InvokeMode.PATH
      ? "/v1.0/invoke/" + notifications.appId() + "/method/" + notifications.method()
      : "/" + notifications.method();
  }

  /** {@code metricsName}: the {@code client_name} label of this client's timings in /metrics. */
  private WebClient webClient(Vertx vertx, String metricsName) {
    return WebClient.create(vertx,
      (WebClientOptions) new WebClientOptions()
        .setMetricsName(metricsName)
        .setDefaultHost(config.host())
        .setDefaultPort(config.httpPort())
        .setKeepAlive(true)
        .setTcpNoDelay(true)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, resilience.stateTimeoutMs()))
        .setUserAgent("todo-api"),
      // The default pool of 5 connections would queue most requests under load; the wait queue is bounded so that
      // an overload fails fast instead of piling up memory.
      new PoolOptions().setHttp1MaxSize(config.poolSize()).setMaxWaitQueueSize(config.maxWaitQueue()));
  }

  private BreakerFailures failures(String name) {
    return new BreakerFailures(name, resilience.breakerWindowMs(), resilience.breakerResetMs(), 1_000,
      System::currentTimeMillis, (breaker, cause) -> failureCounter.accept(breaker, cause));
  }

  /**
   * A breaker that opens after BREAKER_MAX_FAILURES failures that {@code counts}, all within BREAKER_WINDOW_MS with no
   * call between them that it did not count, for BREAKER_RESET_MS; {@code maxRetries} attempts more per call, which
   * {@link RetryGate} limits to what may be sent again. The timeout is per attempt, in {@link #attempt}, so that the
   * failure says which call it was; the breaker's own is off.
   */
  private CircuitBreaker breaker(String name, BreakerFailures failures, int maxRetries, Predicate<Throwable> counts) {
    CircuitBreaker breaker = CircuitBreaker.create(name, vertx, new CircuitBreakerOptions()
      .setMaxFailures(resilience.breakerMaxFailures())
      .setFailuresRollingWindow(resilience.breakerWindowMs())
      .setTimeout(-1)
      .setMaxRetries(maxRetries)
      .setResetTimeout(resilience.breakerResetMs())
      .setFallbackOnFailure(false));
    breaker.retryPolicy(RetryGate.delays(resilience.retryInitialDelayMs(), resilience.retryMaxDelayMs()));
    breaker.failurePolicy((FailurePolicy<Object>) outcome -> {
      Throwable failure = outcome.failed() ? RetryGate.unwrap(outcome.cause()) : null;
      // An open circuit met during a call's retries is no new failure of the target.
      if (failure == null || failure instanceof OpenCircuitException || !counts.test(failure)) {
        failures.forget(); // the breaker resets its count on every outcome it does not count (Completion#handle)
        return false;
      }
      failures.counted(BreakerFailures.causeOf(failure), failure.getMessage());
      return true;
    });
    breaker.openHandler(v -> {
      failures.opened();
      transitions.accept(name, "open");
    }).halfOpenHandler(v -> {
      LOG.info(() -> "circuit breaker '" + name + "' HALF-OPEN: letting one call through");
      transitions.accept(name, "half_open");
    }).closeHandler(v -> {
      LOG.info(() -> "circuit breaker '" + name + "' CLOSED");
      failures.closed();
      transitions.accept(name, "closed");
    });
    return breaker;
  }

  /**
   * {@code POST /v1.0/state/{store}}. With an {@code etag} the save is conditional (first-write concurrency) and is not
   * retried; a stale one fails with a {@link SidecarException} (the store's answer: 409, or 500 {@code ERR_STATE_SAVE}
   * for Redis). Without one the save is idempotent and retried.
   */
  public Future<Void> saveState(String key, JsonObject value, String etag) {
    JsonObject item = new JsonObject().put("key", key).put("value", value);
    if (etag != null) {
      item.put("etag", etag).put("options", new JsonObject().put("concurrency", "first-write"));
    }
    return write("save state " + key, statePath, new JsonArray().add(item).toBuffer(), etag != null);
  }

  /**
   * Saves {@code key} only if it has no value yet: first-write concurrency without an ETag, which Dapr's in-memory
   * store refuses with 409 and Redis with 500 {@code ERR_STATE_SAVE} when the key exists (Redis only when that value
   * was itself written first-write, as every value written here is). The caller reads the key to tell a taken key
   * from a failed store. {@code ttlSeconds} > 0 lets the store expire it ({@code ttlInSeconds}).
   */
  public Future<Void> insertState(String key, JsonObject value, long ttlSeconds) {
    JsonObject item = new JsonObject().put("key", key).put("value", value)
      .put("options", new JsonObject().put("concurrency", "first-write"));
    if (ttlSeconds > 0) {
      item.put("metadata", new JsonObject().put("ttlInSeconds", String.valueOf(ttlSeconds)));
    }
    return write("insert state " + key, statePath, new JsonArray().add(item).toBuffer(), true);
  }

  /**
   * {@code POST /v1.0/state/{store}/transaction} with {@code operations}. A transaction that carries an ETag is
   * conditional and not retried; a store's refusal of it reaches the caller as a {@link SidecarException}
   * ({@code ERR_STATE_TRANSACTION}) without counting as a breaker failure, since Dapr answers a stale ETag in a
   * transaction with 500 on every store. The caller reads the key to tell which it was.
   */
  public Future<Void> transaction(String what, JsonArray operations, boolean conditional) {
    Buffer body = new JsonObject().put("operations", operations).toBuffer();
    return write("transaction " + what, statePath + "/transaction", body, conditional);
  }

  private Future<Void> write(String operation, String path, Buffer body, boolean conditional) {
    // A conditional write is never sent twice: a retry after a lost answer would find its own write and be refused.
    return call(stateBreaker, operation, () -> send(stateClient, operation, HttpMethod.POST, path, body, null,
        resilience.stateTimeoutMs(), conditional), resilience.stateTimeoutMs(),
      failure -> !conditional && failure instanceof SidecarException e && e.isTransient())
      .compose(response -> expectSuccess(operation, response))
      .mapEmpty();
  }

  /**
   * One call under {@code /v1.0/state/{store}} outside the state breaker and without retries: {@link OutboxCheck}'s,
   * which retries on its own while the sidecar starts; its failures then must not open the breaker for the requests
   * that follow. Fails unless the answer is 2xx.
   */
  Future<HttpResponse<Buffer>> stateCallOnce(String operation, HttpMethod method, String subPath, Buffer body) {
    return send(stateClient, operation, method, statePath + subPath, body, null, resilience.stateTimeoutMs(), false)
      .recover(failure -> Future.failedFuture(describe(operation, failure, resilience.stateTimeoutMs())))
      .compose(response -> expectSuccess(operation, response));
  }

  /** {@code GET /v1.0/state/{store}/{key}}: the value and its ETag, or null when the key has no value. */
  public Future<StateEntry> getState(String key) {
    String operation = "get state " + key;
    return call(stateBreaker, operation, () -> send(stateClient, operation, HttpMethod.GET, statePath + "/" + key,
        null, null, resilience.stateTimeoutMs(), false), resilience.stateTimeoutMs(),
      failure -> failure instanceof SidecarException e && e.isTransient())
      .compose(response -> expectSuccess(operation, response))
      .compose(response -> {
        // Dapr answers 204 No Content for a key that has no value.
        if (response.statusCode() == 204 || response.body() == null || response.body().length() == 0) {
          return Future.succeededFuture(null);
        }
        try {
          return Future.succeededFuture(new StateEntry(response.bodyAsJsonObject(), response.getHeader("ETag")));
        } catch (DecodeException | ClassCastException e) {
          return Future.failedFuture(new SidecarException(Kind.ERROR_RESPONSE, operation, response.statusCode(), null,
            operation + ": the stored value is not a JSON object", e));
        }
      });
  }

  /**
   * Invokes the notification method of notification-service through the sidecar, in the configured form
   * ({@code /v1.0/invoke/...} or the {@code dapr-app-id} header). A notification is not idempotent, so it is sent
   * again only when Dapr says it never reached a replica ({@link SidecarException#neverReachedApp()}): then name
   * resolution picks a replica anew, up to {@code NOTIFY_UNDELIVERED_RETRIES} times, as the breaker's retries of one
   * call, each attempt with {@code NOTIFY_TIMEOUT_MS}. So one dead replica behind a live sidecar costs a retry, not a
   * failed notification, and counts nothing against notification-service's breaker.
   *
   * @return the invoked app's JSON answer (an empty object when it sent no body)
   */
  public Future<JsonObject> invokeNotification(JsonObject payload) {
    String operation = "invoke " + invokeTarget;
    String appIdHeader = notifications.invokeMode() == TodoConfig.InvokeMode.HEADER ? notifications.appId() : null;
    Buffer body = payload.toBuffer();
    return call(invokeBreaker, operation, () -> send(invokeClient, operation, HttpMethod.POST, invokePath, body,
        appIdHeader, resilience.notifyTimeoutMs(), false), resilience.notifyTimeoutMs(),
      failure -> failure instanceof SidecarException e && e.neverReachedApp())
      .compose(response -> expectSuccess(operation, response))
      .map(response -> {
        Buffer answer = response.body();
        if (answer == null || answer.length() == 0) {
          return new JsonObject();
        }
        try {
          return answer.toJsonObject();
        } catch (DecodeException | ClassCastException notAnObject) {
          return new JsonObject().put("raw", answer.toString());
        }
      });
  }

  /** {@code GET /v1.0/healthz/outbound}: whether the sidecar is ready to serve the calls this app makes. */
  public Future<Void> outboundHealth() {
    HttpRequest<Buffer> request = stateClient.get("/v1.0/healthz/outbound").timeout(resilience.stateTimeoutMs());
    authorize(request);
    return request.send().expecting(HttpResponseExpectation.SC_SUCCESS).mapEmpty();
  }

  /** Called with (breaker name, new state) at each transition; TodoMetrics counts them. */
  private volatile BiConsumer<String, String> transitions = (name, state) -> { };
  /** Called with (breaker name, cause) for each failure a breaker counts; TodoMetrics counts them. */
  private volatile BiConsumer<String, String> failureCounter = (name, cause) -> { };

  void onTransition(BiConsumer<String, String> listener) {
    transitions = listener;
  }

  void onCountedFailure(BiConsumer<String, String> listener) {
    failureCounter = listener;
  }

  /** Why each breaker that is not closed opened ({@link BreakerFailures#why()}), by readiness's names for them. */
  public JsonObject breakersWhy() {
    JsonObject why = new JsonObject();
    if (stateBreaker.state() != CircuitBreakerState.CLOSED && stateFailures.why() != null) {
      why.put("state_store", stateFailures.why());
    }
    if (invokeBreaker.state() != CircuitBreakerState.CLOSED && invokeFailures.why() != null) {
      why.put("notification_service", invokeFailures.why());
    }
    return why;
  }

  String stateBreakerName() {
    return "state store " + config.stateStore();
  }

  String invokeBreakerName() {
    return "invoke " + invokeTarget;
  }

  public CircuitBreakerState stateBreakerState() {
    return stateBreaker.state();
  }

  public CircuitBreakerState invokeBreakerState() {
    return invokeBreaker.state();
  }

  public void close() {
    stateBreaker.close();
    invokeBreaker.close();
    stateClient.close();
    invokeClient.close();
  }

  /**
   * One call through {@code breaker}: {@code send} with a timeout per attempt, sent again as the breaker retries while
   * each failure is {@code retryable}. A 5xx answer, a timeout or a connection failure fail it; a 4xx answer does not
   * (the sidecar is healthy, the request was wrong) and reaches the caller as a response.
   */
  private Future<HttpResponse<Buffer>> call(CircuitBreaker breaker, String operation,
                                            Supplier<Future<HttpResponse<Buffer>>> send, long timeoutMs,
                                            Predicate<Throwable> retryable) {
    Supplier<Future<HttpResponse<Buffer>>> attempt = () -> send.get().timeout(timeoutMs, TimeUnit.MILLISECONDS)
      .recover(failure -> Future.failedFuture(describe(operation, failure, timeoutMs)));
    return breaker.<HttpResponse<Buffer>>execute(RetryGate.attempts(attempt, retryable))
      .recover(failure -> Future.failedFuture(describe(operation, RetryGate.unwrap(failure), timeoutMs)));
  }

  /**
   * One HTTP request to the sidecar on {@code client}'s pool; a 5xx answer fails it with Dapr's error, except, for a conditional write, the
   * store's own refusal ({@code ERR_STATE_SAVE}, {@code ERR_STATE_TRANSACTION}), which is an answer about the data.
   */
  private Future<HttpResponse<Buffer>> send(WebClient client, String operation, HttpMethod method, String uri,
                                            Buffer body, String appIdHeader, long timeoutMs, boolean conditional) {
    HttpRequest<Buffer> request = client.request(method, uri)
      .idleTimeout(timeoutMs)
      .connectTimeout(timeoutMs);
    authorize(request);
    if (appIdHeader != null) {
      request.putHeader("dapr-app-id", appIdHeader);
    }
    Future<HttpResponse<Buffer>> sent = body == null
      ? request.send()
      : request.putHeader("Content-Type", "application/json").sendBuffer(body);
    return sent.compose(response -> {
      if (response.statusCode() < 500) {
        return Future.succeededFuture(response);
      }
      SidecarException error = SidecarException.fromResponse(operation, response.statusCode(), response.body());
      return conditional && error.isStoreRefusal() ? Future.succeededFuture(response) : Future.failedFuture(error);
    });
  }

  private void authorize(HttpRequest<Buffer> request) {
    if (config.apiToken() != null) {
      request.putHeader("dapr-api-token", config.apiToken());
    }
  }

  private SidecarException describe(String operation, Throwable failure, long timeoutMs) {
    if (failure instanceof SidecarException known) {
      return known;
    }
    if (failure instanceof OpenCircuitException) {
      return new SidecarException(Kind.CIRCUIT_OPEN, operation, 0, null,
        operation + ": circuit breaker open after repeated failures, not calling the sidecar", failure);
    }
    if (failure instanceof io.vertx.circuitbreaker.TimeoutException
      || failure instanceof java.util.concurrent.TimeoutException) {
      return new SidecarException(Kind.TIMEOUT, operation, 0, null,
        operation + ": no answer from the sidecar within " + timeoutMs + " ms", failure);
    }
    String where = config.host() + ":" + config.httpPort();
    String reason = failure instanceof ConnectException ? "cannot connect to the Dapr sidecar at " + where
      : "call to the Dapr sidecar at " + where + " failed: " + failure;
    return new SidecarException(Kind.UNREACHABLE, operation, 0, null, operation + ": " + reason, failure);
  }

  private static Future<HttpResponse<Buffer>> expectSuccess(String operation, HttpResponse<Buffer> response) {
    int status = response.statusCode();
    return status >= 200 && status < 300
      ? Future.succeededFuture(response)
      : Future.failedFuture(SidecarException.fromResponse(operation, status, response.body()));
  }
}
