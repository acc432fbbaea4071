package com.example.dapr.todo;

import com.example.dapr.client.DaprState;
import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonBinding;
import com.example.dapr.http.Observability;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.logging.Logger;

/** {@code POST /tasks}, {@code GET /tasks/{id}} and {@code PUT}/{@code PATCH /tasks/{id}}. */
final class TaskHandlers {

  private static final Logger LOG = Logger.getLogger(TaskHandlers.class.getName());

  static final int MAX_IDEMPOTENCY_KEY_LENGTH = 255;

  private final TaskStore store;
  private final NotificationDelivery delivery;
  private final ChargeDelivery charges;
  private final boolean charging;

  /** {@code charging}: whether completions are charged (CHARGES). */
  TaskHandlers(TaskStore store, NotificationDelivery delivery, ChargeDelivery charges, boolean charging) {
    this.store = store;
    this.delivery = delivery;
    this.charges = charges;
    this.charging = charging;
  }

  /**
   * Saves a new pending task with its notification {@code Todo created: <title>} (one outbox transaction), then sends
   * the notification at once. With an {@code Idempotency-Key}, a retry of the same create answers the first task.
   */
  void create(RoutingContext ctx) {
    String title = TaskRequests.createTitle(ctx);
    String idempotencyKey = idempotencyKey(ctx.request().getHeader("Idempotency-Key"));
    Task candidate = Task.newPending(title);
    Observability.tagTask(candidate.id());
    Future<Task> reserved = idempotencyKey == null ? Future.succeededFuture(candidate)
      : store.reserve(idempotencyKey, candidate);
    reserved
      .compose(task -> task == candidate ? createNew(ctx, task) : replay(ctx, task))
      .onFailure(ctx::fail);
  }

  private Future<Void> createNew(RoutingContext ctx, Task task) {
    Notification notification = Notification.created(task);
    return store.create(task, notification)
      .compose(saved -> delivery.send(notification, false))
      .map(outcome -> {
        ctx.response().putHeader("Location", "/tasks/" + task.id());
        respond(ctx, 201, null, new TaskAnswer(task, outcome.json()));
        return null;
      });
  }

  /** A create whose Idempotency-Key was used before: the task it made, or, if that create never finished, made now. */
  private Future<Void> replay(RoutingContext ctx, Task first) {
    return store.read(first.id()).compose(entry -> {
      if (entry == null) {
        LOG.info(() -> "Idempotency-Key of task " + first.id() + " seen again before its task was stored; storing it");
        return createNew(ctx, first);
      }
      ctx.response().putHeader("Location", "/tasks/" + first.id()).putHeader("Idempotent-Replayed", "true");
      respond(ctx, 201, entry.etag(), new TaskAnswer(Task.fromStored(first.stateKey(), entry.value())));
      return Future.succeededFuture();
    });
  }

  private static String idempotencyKey(String header) {
    if (header == null) {
      return null;
    }
    if (header.isBlank() || header.length() > MAX_IDEMPOTENCY_KEY_LENGTH || !header.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
      throw ApiException.badRequest("INVALID_IDEMPOTENCY_KEY",
        "Idempotency-Key must be 1 to " + MAX_IDEMPOTENCY_KEY_LENGTH + " printable ASCII characters");
    }
    return header;
  }

  /** The stored task with the store's ETag. */
  void get(RoutingContext ctx) {
    String id = TaskRequests.taskId(ctx.pathParam("id"));
    Observability.tagTask(id);
    read(id)
      .map(entry -> new Updated(Task.fromStored(Task.stateKey(id), entry.value()), entry.etag(), Announced.NONE))
      .onSuccess(stored -> respond(ctx, 200, stored.etag(), new TaskAnswer(stored.task())))
      .onFailure(ctx::fail);
  }

  /**
   * Changes a task's status and/or title, guarded by the store's ETag: the client's {@code If-Match} when it sends one
   * (a stale one answers 412), else the version just read (a concurrent change answers 409). A task that becomes
   * completed is saved with its notification {@code Todo completed: <title>} and its charge in one outbox transaction;
   * both are then sent at once, side by side, and the answer says what became of each.
   */
  void update(RoutingContext ctx) {
    String id = TaskRequests.taskId(ctx.pathParam("id"));
    Observability.tagTask(id);
    TaskRequests.Change change = TaskRequests.change(ctx);
    IfMatch ifMatch = IfMatch.parse(ctx.request().getHeader("If-Match"));
    read(id)
      .compose(entry -> {
        if (ifMatch != null && !ifMatch.matches(entry.etag())) {
          return Future.failedFuture(preconditionFailed(id));
        }
        Task current = Task.fromStored(Task.stateKey(id), entry.value());
        Task changed = change.applyTo(current);
        if (changed.equals(current)) {
          return Future.succeededFuture(new Updated(current, entry.etag(), Announced.NONE));
        }
        Task updated = changed.nextVersion();
        Notification notification = updated.isCompleted() && !current.isCompleted()
          ? Notification.completed(updated, charging) : null;
        return store.update(updated, entry.etag(), notification)
          .recover(failure -> Future.failedFuture(failure instanceof TaskStore.StaleEtagException
            ? (ifMatch != null ? preconditionFailed(id) : concurrentChange(id))
            : failure))
          .compose(saved -> announce(notification))
          .compose(announced -> fresh(id, updated, announced));
      })
      .onSuccess(result -> respond(ctx, 200, result.etag(), new TaskAnswer(result.task(),
        result.announced().notification(), result.announced().billing())))
      .onFailure(ctx::fail);
  }

  /** Sends a saved change's notification and charge side by side: what became of each (none without a change). */
  private Future<Announced> announce(Notification notification) {
    if (notification == null) {
      return Future.succeededFuture(Announced.NONE);
    }
    Future<Outcome> notified = delivery.send(notification, false);
    Future<Outcome> charged = notification.charge() == null ? Future.succeededFuture(null)
      : charges.send(notification.charge(), false);
    return Future.all(notified, charged).map(both -> new Announced(notified.result().json(),
      charged.result() == null ? null : charged.result().json()));
  }

  private Future<DaprState.Entry> read(String id) {
    return store.read(id).compose(entry -> entry == null
      ? Future.failedFuture(new ApiException(404, "TASK_NOT_FOUND", "no task with id '" + id + "'"))
      : Future.succeededFuture(entry));
  }

  /** The saved task as the store now has it, with its new ETag; what was saved, without an ETag, if that read fails. */
  private Future<Updated> fresh(String id, Task saved, Announced announced) {
    return store.read(id)
      .map(entry -> entry == null
        ? new Updated(saved, null, announced)
        : new Updated(Task.fromStored(saved.stateKey(), entry.value()), entry.etag(), announced))
      .otherwise(new Updated(saved, null, announced));
  }

  private static ApiException preconditionFailed(String id) {
    return new ApiException(412, "ETAG_MISMATCH",
      "task '" + id + "' has changed since that ETag was read; GET it again and retry with the new ETag");
  }

  private static ApiException concurrentChange(String id) {
    return new ApiException(409, "CONCURRENT_UPDATE", "task '" + id + "' was changed by another request; retry");
  }

  private static void respond(RoutingContext ctx, int status, String etag, TaskAnswer body) {
    HttpServerResponse response = ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json");
    if (etag != null) {
      response.putHeader("ETag", IfMatch.quote(etag));
    }
    response.end(JsonBinding.encode(body));
  }

  private record Updated(Task task, String etag, Announced announced) {
  }

  /** What became of a change's notification and charge, each null when it made none. */
  private record Announced(JsonObject notification, JsonObject billing) {
    static final Announced NONE = new Announced(null, null);
  }
}
