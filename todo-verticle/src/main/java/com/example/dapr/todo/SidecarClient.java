package com.example.dapr.todo;

import com.example.dapr.client.DaprInvoke;
import com.example.dapr.client.DaprPubSub;
import com.example.dapr.client.DaprState;
import com.example.dapr.client.DaprTransport;
import com.example.dapr.client.SidecarException;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Predicate;

/**
 * todo-api's calls to its Dapr sidecar ({@link DaprState}, {@link DaprInvoke}), each target behind its own breaker
 * ({@link BreakerGuard}), with the rules of what may be sent again: an unconditional state call after any transient
 * failure, a conditional write never (a retry after a lost answer would find its own write and be refused), a
 * notification only when Dapr says it never reached a replica.
 */
public final class SidecarClient {

  private final TodoConfig.Resilience resilience;
  /** State calls and invocations have a pool of connections each, so that slow invocations never hold up a save. */
  private final DaprTransport stateTransport;
  private final DaprTransport invokeTransport;
  private final DaprState state;
  private final DaprInvoke notify;
  private final DaprPubSub pubsub;
  private final BreakerGuard stateGuard;
  private final BreakerGuard invokeGuard;
  /** Called with (breaker name, new state) at each transition; TodoMetrics counts them. */
  private volatile BiConsumer<String, String> transitions = (name, breakerState) -> { };
  /** Called with (breaker name, cause) for each failure a breaker counts; TodoMetrics counts them. */
  private volatile BiConsumer<String, String> failureCounter = (name, cause) -> { };

  SidecarClient(Vertx vertx, TodoConfig all) {
    TodoConfig.Sidecar config = all.sidecar();
    TodoConfig.Notifications notifications = all.notifications();
    this.resilience = all.resilience();
    // A bulkhead: one pool for the state store, one for notification-service. With one pool, a notification-service
    // slower than usual (a cold JVM: invocations near NOTIFY_TIMEOUT_MS) held every connection, saves queued behind
    // them past STATE_TIMEOUT_MS, and the state breaker opened: 41-67% of 150 POST /tasks/s against a freshly started
    // system failed with 503 CIRCUIT_OPEN on this project's 2-core machine, though the store answered in ms.
    this.stateTransport = transport(vertx, config, resilience.stateTimeoutMs(), "dapr-state");
    this.invokeTransport = transport(vertx, config, resilience.stateTimeoutMs(), "dapr-invoke");
    this.state = new DaprState(stateTransport, config.stateStore(), resilience.stateTimeoutMs());
    this.notify = new DaprInvoke(invokeTransport, notifications.appId(), notifications.method(),
      notifications.invokeMode() == TodoConfig.InvokeMode.PATH ? DaprInvoke.Form.PATH : DaprInvoke.Form.HEADER,
      resilience.notifyTimeoutMs());
    this.pubsub = new DaprPubSub(stateTransport, notifications.pubsub(), resilience.stateTimeoutMs());
    BiConsumer<String, String> onTransition = (name, to) -> transitions.accept(name, to);
    BiConsumer<String, String> onCounted = (name, cause) -> failureCounter.accept(name, cause);
    // Every failure of a state call counts: the store is behind the local sidecar, so any failure is the sidecar's or
    // the store's, the two things this breaker stands for.
    this.stateGuard = new BreakerGuard(vertx, "state store " + config.stateStore(), resilience,
      resilience.stateRetries(), failure -> true, onTransition, onCounted);
    // notification-service counts as failing only by failures of notification-service as a whole (NotifyFailures):
    // one replica gone must not cut the healthy replicas off with the dead one.
    this.invokeGuard = new BreakerGuard(vertx, notify.operation(), resilience, resilience.notifyUndeliveredRetries(),
      new NotifyFailures(resilience.breakerWindowMs(), System::currentTimeMillis), onTransition, onCounted);
  }

  /** A pool of connections to the sidecar of its own, named {@code metricsName} in the HTTP client's metrics. */
  static DaprTransport transport(Vertx vertx, TodoConfig.Sidecar config, long connectTimeoutMs, String metricsName) {
    // The default pool of 5 connections would queue most requests under load.
    return new DaprTransport(vertx, new DaprTransport.Options(config.host(), config.httpPort(), config.apiToken(),
      config.poolSize(), config.maxWaitQueue(), connectTimeoutMs, "todo-api", metricsName));
  }

  /** The state store, outside the breaker and without retries: {@link OutboxCheck}'s, which retries on its own. */
  DaprState stateOnce() {
    return state;
  }

  /** The pub/sub component the notifications go through (todo-api's subscriptions to it). */
  DaprPubSub pubsub() {
    return pubsub;
  }

  /** Saves {@code item}; retried when it is unconditional (see the class comment). */
  public Future<Void> save(DaprState.Item item) {
    String operation = "save state " + item.key();
    return stateGuard.execute(operation, () -> state.save(operation, List.of(item)), retryable(!item.conditional()));
  }

  /** One transaction; retried unless an operation is conditional (carries an ETag). */
  public Future<Void> transaction(String what, List<DaprState.Operation> operations) {
    String operation = "transaction " + what;
    boolean conditional = operations.stream().anyMatch(DaprState.Operation::conditional);
    return stateGuard.execute(operation, () -> state.transaction(operation, operations), retryable(!conditional));
  }

  /** {@code GET /v1.0/state/{store}/{key}}: the value and its ETag, or null when the key has no value. */
  public Future<DaprState.Entry> getState(String key) {
    return stateGuard.execute("get state " + key, () -> state.get(key), retryable(true));
  }

  /**
   * Invokes the notification method of notification-service. A notification is not idempotent, so it is sent again
   * only when Dapr says it never reached a replica ({@link SidecarException#neverReachedApp()}): then name resolution
   * picks a replica anew, up to {@code NOTIFY_UNDELIVERED_RETRIES} times, each attempt with {@code NOTIFY_TIMEOUT_MS}.
   * So one dead replica behind a live sidecar costs a retry, not a failed notification, and counts nothing against
   * notification-service's breaker.
   *
   * @return the invoked app's JSON answer (an empty object when it sent no body)
   */
  public Future<JsonObject> invokeNotification(JsonObject payload) {
    return invokeGuard.execute(notify.operation(), () -> notify.post(payload),
      failure -> failure instanceof SidecarException e && e.neverReachedApp());
  }

  private static Predicate<Throwable> retryable(boolean idempotent) {
    return failure -> idempotent && failure instanceof SidecarException e && e.isTransient();
  }

  /** {@code GET /v1.0/healthz/outbound}: whether the sidecar is ready to serve the calls this app makes. */
  public Future<Void> outboundHealth() {
    return stateTransport.outboundHealth(resilience.stateTimeoutMs());
  }

  void onTransition(BiConsumer<String, String> listener) {
    transitions = listener;
  }

  void onCountedFailure(BiConsumer<String, String> listener) {
    failureCounter = listener;
  }

  /** Why each breaker that is not closed opened ({@link BreakerFailures#why()}), by readiness's names for them. */
  public JsonObject breakersWhy() {
    JsonObject why = new JsonObject();
    JsonObject stateWhy = stateGuard.whyNotClosed();
    JsonObject invokeWhy = invokeGuard.whyNotClosed();
    if (stateWhy != null) {
      why.put("state_store", stateWhy);
    }
    if (invokeWhy != null) {
      why.put("notification_service", invokeWhy);
    }
    return why;
  }

  String stateBreakerName() {
    return stateGuard.name();
  }

  String invokeBreakerName() {
    return invokeGuard.name();
  }

  public CircuitBreakerState stateBreakerState() {
    return stateGuard.state();
  }

  public CircuitBreakerState invokeBreakerState() {
    return invokeGuard.state();
  }

  public void close() {
    stateGuard.close();
    invokeGuard.close();
    stateTransport.close();
    invokeTransport.close();
  }
}
