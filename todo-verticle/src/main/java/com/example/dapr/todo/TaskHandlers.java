package com.example.dapr.todo;

import com.example.dapr.http.ApiException;
import com.example.dapr.http.JsonRequests;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.logging.Logger;

/** {@code POST /tasks}, {@code GET /tasks/{id}} and {@code PUT}/{@code PATCH /tasks/{id}}. */
final class TaskHandlers {

  private static final Logger LOG = Logger.getLogger(TaskHandlers.class.getName());

  private final SidecarClient sidecar;
  private final TaskNotifier notifier;

  TaskHandlers(SidecarClient sidecar, TaskNotifier notifier) {
    this.sidecar = sidecar;
    this.notifier = notifier;
  }

  /** Saves a new pending task, then tells notification-service {@code Todo created: <title>}. */
  void create(RoutingContext ctx) {
    String title = TaskRequests.createTitle(JsonRequests.object(ctx));
    Task task = Task.newPending(title);
    sidecar.saveState(task.stateKey(), task.toJson(), null)
      .compose(saved -> notifier.send("Todo created: " + title, task.id()))
      .onSuccess(notification -> {
        LOG.fine(() -> "task " + task.id() + " created; notification " + notification.encode());
        ctx.response().putHeader("Location", "/tasks/" + task.id());
        respond(ctx, 201, null, task.toJson().put("notification", notification));
      })
      .onFailure(ctx::fail);
  }

  /** The stored task with the store's ETag. */
  void get(RoutingContext ctx) {
    String id = TaskRequests.taskId(ctx.pathParam("id"));
    read(id)
      .onSuccess(entry -> respond(ctx, 200, entry.etag(), Task.fromJson(entry.value()).toJson()))
      .onFailure(ctx::fail);
  }

  /**
   * Changes a task's status and/or title, guarded by the store's ETag: the client's {@code If-Match} when it sends one
   * (a stale one answers 412), else the version just read (a concurrent change answers 409). A task that becomes
   * completed sends {@code Todo completed: <title>}.
   */
  void update(RoutingContext ctx) {
    String id = TaskRequests.taskId(ctx.pathParam("id"));
    TaskRequests.Change change = TaskRequests.change(JsonRequests.object(ctx));
    IfMatch ifMatch = IfMatch.parse(ctx.request().getHeader("If-Match"));
    read(id)
      .compose(entry -> {
        if (ifMatch != null && !ifMatch.matches(entry.etag())) {
          return Future.failedFuture(preconditionFailed(id));
        }
        Task current = Task.fromJson(entry.value());
        Task updated = change.applyTo(current);
        if (updated.equals(current)) {
          return Future.succeededFuture(new Updated(current.toJson(), entry.etag(), null));
        }
        return sidecar.saveState(Task.stateKey(id), updated.toJson(), entry.etag())
          .recover(failure -> Future.failedFuture(isEtagMismatch(failure)
            ? (ifMatch != null ? preconditionFailed(id) : concurrentChange(id))
            : failure))
          .compose(saved -> updated.isCompleted() && !current.isCompleted()
            ? notifier.send("Todo completed: " + updated.title(), id)
            : Future.<JsonObject>succeededFuture(null))
          .compose(notification -> fresh(id, updated, notification));
      })
      .onSuccess(result -> {
        JsonObject body = result.task();
        if (result.notification() != null) {
          body.put("notification", result.notification());
        }
        respond(ctx, 200, result.etag(), body);
      })
      .onFailure(ctx::fail);
  }

  private Future<StateEntry> read(String id) {
    return sidecar.getState(Task.stateKey(id)).compose(entry -> entry == null
      ? Future.failedFuture(new ApiException(404, "TASK_NOT_FOUND", "no task with id '" + id + "'"))
      : Future.succeededFuture(entry));
  }

  /** The saved task as the store now has it, with its new ETag; what was saved, without an ETag, if that read fails. */
  private Future<Updated> fresh(String id, Task saved, JsonObject notification) {
    return sidecar.getState(Task.stateKey(id))
      .map(entry -> entry == null
        ? new Updated(saved.toJson(), null, notification)
        : new Updated(Task.fromJson(entry.value()).toJson(), entry.etag(), notification))
      .otherwise(new Updated(saved.toJson(), null, notification));
  }

  private static boolean isEtagMismatch(Throwable failure) {
    // Dapr answers 409 Conflict (ERR_STATE_SAVE) when a first-write save carries a stale ETag.
    return failure instanceof SidecarException e && e.status() == 409;
  }

  private static ApiException preconditionFailed(String id) {
    return new ApiException(412, "ETAG_MISMATCH",
      "task '" + id + "' has changed since that ETag was read; GET it again and retry with the new ETag");
  }

  private static ApiException concurrentChange(String id) {
    return new ApiException(409, "CONCURRENT_UPDATE", "task '" + id + "' was changed by another request; retry");
  }

  private static void respond(RoutingContext ctx, int status, String etag, JsonObject body) {
    HttpServerResponse response = ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json");
    if (etag != null) {
      response.putHeader("ETag", IfMatch.quote(etag));
    }
    response.end(body.encode());
  }

  private record Updated(JsonObject task, String etag, JsonObject notification) {
  }
}
