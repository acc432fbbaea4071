package com.example.dapr.todo;

import com.example.dapr.client.DaprState;
import com.example.dapr.client.DaprState.Item;
import com.example.dapr.client.DaprState.Operation;
import com.example.dapr.client.SidecarException;
import com.example.dapr.http.ApiException;
import io.vertx.core.Future;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Tasks in the Dapr state store, under {@code task-{id}}. A change that announces something is saved with its
 * {@link Notification} in one transaction through Dapr's transactional outbox: the task is one {@code upsert}, the
 * notification a second {@code upsert} of the same key marked {@code outbox.projection}, which Dapr publishes instead
 * of the task once the transaction has committed. So a task is never stored without the intent to announce it.
 */
final class TaskStore {

  /** How long an {@code Idempotency-Key} is remembered. */
  static final long IDEMPOTENCY_TTL_SECONDS = 86_400;

  private final SidecarClient sidecar;
  private final OutboxCheck outbox;

  /**
   * {@code outbox}: the writes with a notification wait for it and are refused before anything is written when the
   * store has no outbox, where the notification would replace the task.
   */
  TaskStore(SidecarClient sidecar, OutboxCheck outbox) {
    this.sidecar = sidecar;
    this.outbox = outbox;
  }

  /** The stored task with its ETag, or null when there is none. */
  Future<DaprState.Entry> read(String id) {
    return sidecar.getState(Task.stateKey(id));
  }

  /** Saves a new task and its notification in one outbox transaction. */
  Future<Void> create(Task task, Notification notification) {
    return outbox.whenPassed()
      .compose(passed -> sidecar.transaction(task.stateKey(), outboxOperations(task, null, notification)));
  }

  /**
   * Saves {@code updated} if the stored task still has {@code etag}, with {@code notification} in the same outbox
   * transaction when there is one. A store that refused because another writer came first fails with
   * {@link StaleEtagException}; any other failure as it was.
   */
  Future<Void> update(Task updated, String etag, Notification notification) {
    Future<Void> saved = notification == null
      ? sidecar.save(Item.of(updated.stateKey(), updated.toJson()).ifEtag(etag))
      : outbox.whenPassed().compose(passed ->
        sidecar.transaction(updated.stateKey(), outboxOperations(updated, etag, notification)));
    return saved.recover(failure -> !(failure instanceof SidecarException e) || !e.isStoreRefusal()
      ? Future.failedFuture(failure)
      // Dapr answers a stale ETag and a failing store alike (409 or 500); the stored ETag tells which it was.
      : read(updated.id()).compose(entry -> Future.failedFuture(entry == null || !etag.equals(entry.etag())
        ? new StaleEtagException(updated.id()) : failure)));
  }

  /**
   * Reserves {@code idempotencyKey} for {@code candidate}: the first request with a key stores it (for
   * {@link #IDEMPOTENCY_TTL_SECONDS}) and gets its candidate back; a later one gets the task the first reserved, to be
   * created if it is not stored yet (the first request may have failed or died before). A key reused with another
   * title is a 422. Only creates reserve, so a store without the outbox refuses it before the reservation is written.
   */
  Future<Task> reserve(String idempotencyKey, Task candidate) {
    String key = "idempotency-" + sha256(idempotencyKey);
    Item reservation = Item.of(key, candidate.toJson()).ifAbsent().ttlSeconds(IDEMPOTENCY_TTL_SECONDS);
    return outbox.whenPassed().compose(passed -> sidecar.save(reservation))
      .map(inserted -> candidate)
      .recover(failure -> !(failure instanceof SidecarException e) || !e.isStoreRefusal()
        ? Future.failedFuture(failure)
        : sidecar.getState(key).compose(existing -> {
          if (existing == null) {
            return Future.failedFuture(failure);
          }
          Task first = Task.fromStored(key, existing.value());
          return first.title().equals(candidate.title()) ? Future.succeededFuture(first)
            : Future.failedFuture(new ApiException(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for "
              + "another task (title '" + first.title() + "'); use a new key for a new task"));
        }));
  }

  private static List<Operation> outboxOperations(Task task, String etag, Notification notification) {
    Item save = Item.of(task.stateKey(), task.toJson()).ifEtag(etag);
    // Dapr 1.18.3 copies the save's metadata into the outbox's CloudEvent, whose own traceparent it leaves empty
    // (pkg/runtime/pubsub/outbox.go:238-247): with the request's traceparent here, a notification delivered by the
    // outbox stays in the trace of the POST /tasks that created it instead of starting one of its own.
    String traceparent = com.example.dapr.http.Observability.traceparent();
    if (traceparent != null) {
      save = save.with("traceparent", traceparent);
    }
    // The projection is what Dapr publishes instead of the saved value; contentType makes it JSON in the event. It is
    // never written to the store, so Redis's JSON mode (which Debian's Redis lacks) is not asked for.
    Item projection = Item.of(task.stateKey(), notification.toJson())
      .with("outbox.projection", "true").with("contentType", "application/json");
    return List.of(Operation.upsert(save), Operation.upsert(projection));
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JVM", e);
    }
  }

  /** The stored task's ETag is no longer the one the change was based on. */
  static final class StaleEtagException extends RuntimeException {
    StaleEtagException(String id) {
      super("task '" + id + "' was changed by another writer", null, false, false);
    }
  }
}
