package com.example.dapr.todo;

import com.example.dapr.client.DaprState;
import com.example.dapr.client.DaprState.Item;
import com.example.dapr.client.DaprState.Operation;
import com.example.dapr.client.SidecarException;
import com.example.dapr.http.ApiException;
import io.vertx.circuitbreaker.RetryPolicy;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.Status;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Logger;

/**
 * Whether the state store has Dapr's transactional outbox, found out once at start by doing what {@link TaskStore}
 * does, on a key of its own. Dapr's metadata API does not list a component's outbox settings, and without them the
 * notification todo-api marks {@code outbox.projection} is one more upsert of the task's key: it would replace the
 * task. So until this check has passed, creates and completions (the writes with a notification) are refused.
 * <p>
 * One transaction on {@code outbox-check-<uuid>}: an upsert of a value, then an upsert of a projection of it, then the
 * key is read back. Dapr 1.18.3 decides which one the store gets, the same way for every store:
 * <ul>
 *   <li>with {@code outboxPublishPubsub} and {@code outboxPublishTopic} both set the store is an outbox store
 *   (pkg/runtime/pubsub/outbox.go:121-135), the transaction API hands the operations to the outbox first
 *   (pkg/api/http/http.go:1618-1631), which takes the projection out of the list (outbox.go:172-184), publishes it in
 *   place of the value (outbox.go:199-200, 238-258) and adds its own marker key {@code outbox-<uuid>}
 *   (outbox.go:148-158, 263): the store gets the value;</li>
 *   <li>without them the operations go to the store's {@code Multi} as they came (http.go:1633-1643), in order: the
 *   projection is the last upsert of the key, and the store has it.</li>
 * </ul>
 * Dapr's internal subscriber waits for its own marker key, not for ours, before it publishes the projection to
 * {@code outboxPublishTopic} and deletes the marker (outbox.go:300-331, 354-373), so our key is deleted as soon as it
 * was read (a TTL covers a delete that fails). The projection is plain text, not JSON: Redis stores an upsert marked
 * {@code contentType: application/json} with RedisJSON's {@code JSON.SET} (components-contrib 1.18.4,
 * state/redis/redis.go:423-427), which Debian's Redis lacks, and the check must conclude there too. Its published
 * event reaches {@link OutboxSubscriber}, which drops it ({@link #isCheckEvent}).
 */
final class OutboxCheck {

  static final String KEY_PREFIX = "outbox-check-";
  static final String ERROR = "STATE_STORE_WITHOUT_OUTBOX";
  static final List<String> MISSING_METADATA = List.of("outboxPublishPubsub", "outboxPublishTopic");
  /** The projection's text, followed by the key: what the outbox publishes, and how {@link #isCheckEvent} knows it. */
  static final String PROJECTION_PREFIX = "todo-api outbox self-check ";
  static final long KEY_TTL_SECONDS = 60;
  private static final Logger LOG = Logger.getLogger(OutboxCheck.class.getName());
  /** Attempts while the sidecar starts: jittered, up to 100 ms doubling to 2 s; a warning every {@value #WARN_EVERY}. */
  private static final RetryPolicy BACKOFF = RetryPolicy.exponentialDelayWithJitter(100, 2_000);
  private static final int WARN_EVERY = 15;

  enum State { CHECKING, PASSED, FAILED }

  private final Vertx vertx;
  private final SidecarClient sidecar;
  private final String component;
  private final long waitMs;
  private final Promise<Void> concluded = Promise.promise();
  /** Completed when an attempt is first refused by the sidecar with a 4xx: the writes waiting then go ahead. */
  private final Promise<Void> refused = Promise.promise();
  private volatile State state = State.CHECKING;
  private volatile int attempts;
  private volatile String lastError = "not tried yet";
  /** Set while the sidecar refuses the check itself with a 4xx (an unknown store, no transactions): see whenPassed. */
  private volatile boolean refusedBySidecar;

  /** {@code waitMs}: how long a write waits for a check still under way (the state timeout). */
  OutboxCheck(Vertx vertx, SidecarClient sidecar, String component, long waitMs) {
    this.vertx = vertx;
    this.sidecar = sidecar;
    this.component = component;
    this.waitMs = waitMs;
  }

  /** Starts checking; retries, with backoff, until the sidecar and the store give an answer. */
  void start() {
    attempt();
  }

  State state() {
    return state;
  }

  /**
   * Completes when the writes with a notification may go ahead: at once when the check has passed; a 503
   * {@value #ERROR} when it failed; while it is still under way, when it concludes or after {@code waitMs} (a 503
   * {@code OUTBOX_CHECK_PENDING}). While the sidecar refuses the check's transaction with a 4xx (no such store, a
   * store without transactions), the write goes ahead: Dapr refuses it the same way before it reaches the store
   * (pkg/api/http/http.go:1489-1503), and the caller gets Dapr's own error code.
   */
  Future<Void> whenPassed() {
    if (state == State.CHECKING && refusedBySidecar) {
      return Future.succeededFuture();
    }
    return switch (state) {
      case PASSED -> Future.succeededFuture();
      case FAILED -> Future.failedFuture(withoutOutbox());
      case CHECKING -> {
        Promise<Void> waited = Promise.promise();
        long timer = vertx.setTimer(Math.max(1, waitMs), id -> waited.tryFail(new ApiException(503,
          "OUTBOX_CHECK_PENDING", "todo-api is still checking that state store '" + component + "' has Dapr's "
          + "transactional outbox (" + lastError + "); retry shortly", null, Map.of("Retry-After", "1"), null)));
        refused.future().onSuccess(v -> {
          vertx.cancelTimer(timer);
          waited.tryComplete();
        });
        concluded.future().onComplete(ar -> {
          vertx.cancelTimer(timer);
          if (ar.succeeded()) {
            waited.tryComplete();
          } else {
            waited.tryFail(withoutOutbox());
          }
        });
        yield waited.future();
      }
    };
  }

  /** The readiness entry: UP once the check passed; DOWN, saying why, while it runs and when it failed. */
  Status status() {
    JsonObject data = new JsonObject().put("component", component);
    return switch (state) {
      case PASSED -> Status.OK(data.put("outbox", "checked"));
      case CHECKING -> Status.KO(data.put("checking", true).put("attempts", attempts).put("last_error", lastError));
      case FAILED -> Status.KO(data.put("error", ERROR).put("missing_metadata", new JsonArray(MISSING_METADATA))
        .put("message", message()));
    };
  }

  /** Whether {@code event}, a CloudEvent the outbox published, is this check's: its data is the projection's text. */
  static boolean isCheckEvent(JsonObject event) {
    return event != null && event.getValue("data") instanceof String text && text.startsWith(PROJECTION_PREFIX);
  }

  private void attempt() {
    String key = KEY_PREFIX + UUID.randomUUID();
    String projection = PROJECTION_PREFIX + key;
    Item check = Item.of(key, new JsonObject().put("outbox_check", key)).ttlSeconds(KEY_TTL_SECONDS);
    Item projected = Item.of(key, projection).ttlSeconds(KEY_TTL_SECONDS).with("outbox.projection", "true")
      .with("contentType", "text/plain");
    attempts++;
    DaprState state = sidecar.stateOnce();
    Future<?> transaction = state.transaction("outbox check: transaction " + key,
      List.of(Operation.upsert(check), Operation.upsert(projected)));
    transaction.compose(done -> state.getValue(key))
      .compose(read -> {
        Object stored = read == null ? null : decode(read.value());
        if (stored instanceof JsonObject value && key.equals(value.getString("outbox_check"))) {
          return Future.succeededFuture(State.PASSED);
        }
        if (projection.equals(stored)) {
          return Future.succeededFuture(State.FAILED);
        }
        return Future.failedFuture("read back " + (stored == null ? "nothing" : "'" + stored + "'")
          + " for " + key + " right after the transaction");
      })
      .onComplete(ar -> {
        if (transaction.succeeded()) {
          state.delete(key)
            .onFailure(e -> LOG.fine(() -> "outbox check: " + key + " not deleted (its TTL will): " + e.getMessage()));
        }
        refusedBySidecar = !ar.succeeded() && ar.cause() instanceof SidecarException e && !e.isTransient();
        if (refusedBySidecar) {
          refused.tryComplete();
        }
        if (ar.succeeded()) {
          conclude(ar.result());
        } else {
          retry(ar.cause());
        }
      });
  }

  private void conclude(State result) {
    state = result;
    if (result == State.PASSED) {
      LOG.info(() -> "state store '" + component + "' has Dapr's transactional outbox (checked after " + attempts
        + " attempt(s)): creates and completions are accepted");
      concluded.complete();
    } else {
      LOG.severe(this::message);
      concluded.fail(withoutOutbox());
    }
  }

  private void retry(Throwable failure) {
    lastError = String.valueOf(failure.getMessage());
    long delay = Math.max(1, BACKOFF.delay(failure, attempts));
    // The first attempt usually meets a sidecar still starting (scripts/run.sh starts it after todo-api): said once,
    // quietly; a warning only when it goes on.
    if (attempts == 1 || attempts % WARN_EVERY == 0) {
      LOG.log(attempts == 1 ? java.util.logging.Level.INFO : java.util.logging.Level.WARNING, () -> "outbox check of "
        + "state store '" + component + "' not done yet (attempt " + attempts + "): " + lastError + "; trying again in "
        + delay + " ms (creates wait for it, readiness is DOWN meanwhile)");
    } else {
      LOG.fine(() -> "outbox check attempt " + attempts + " failed: " + lastError);
    }
    vertx.setTimer(delay, id -> attempt());
  }

  private String message() {
    return "state store component '" + component + "' has no transactional outbox: its metadata lacks "
      + String.join(" and ", MISSING_METADATA) + ", so Dapr would store each task's notification over the task "
      + "instead of publishing it. Creates and completions are refused (503 " + ERROR + ") and readiness is DOWN. "
      + "Add outboxPublishPubsub (the pub/sub component, e.g. pubsub) and outboxPublishTopic (e.g. notifications) "
      + "to the component, as in dapr/state-memory/statestore.yaml, then restart todo-api's sidecar and todo-api.";
  }

  private ApiException withoutOutbox() {
    return new ApiException(503, ERROR, message(), new JsonObject().put("component", component)
      .put("missing_metadata", new JsonArray(MISSING_METADATA)), Map.of(), null);
  }

  private static Object decode(Buffer body) {
    try {
      return Json.decodeValue(body);
    } catch (RuntimeException notJson) {
      return body.toString();
    }
  }
}
