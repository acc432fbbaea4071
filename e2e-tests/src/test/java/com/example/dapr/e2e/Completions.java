package com.example.dapr.e2e;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;


/**
 * A steady stream of completions at a fixed rate: each a {@code POST /tasks}, then a {@code PATCH} of the task to
 * completed, its outcome recorded with its time ({@link PacedRequests}: bounded, stops by itself).
 */
final class Completions extends PacedRequests<Completions.Outcome> {

  /**
   * One completion: when it started (ms since the stream began), what the PATCH answered (0: no answer, or the create
   * failed), and for a 200 the charge's id and status and the error it names.
   */
  record Outcome(long startedMs, int status, String chargeId, String billing, String error)
    implements PacedRequests.Timed {
    boolean accepted() {
      return status == 200;
    }

    boolean chargedAtOnce() {
      return accepted() && "charged".equals(billing);
    }
  }

  Completions(Http http, int port, int perSecond, int maxSeconds) {
    this(http, "127.0.0.1", port, perSecond, maxSeconds);
  }

  /** To todo-api at {@code host}:{@code port} (the cluster's todo-api Service, for one). */
  Completions(Http http, String host, int port, int perSecond, int maxSeconds) {
    super(http, host, port, perSecond, maxSeconds);
  }

  @Override
  protected void sendOne() {
    long started = nowMs();
    http.postAsync(host, port, "/tasks", new JsonObject().put("title", "completion " + started))
      .compose(created -> created.statusCode() != 201 ? Future.failedFuture("create answered "
        + created.statusCode() + ": " + created.bodyAsString())
        : http.request(HttpMethod.PATCH, host, port, "/tasks/" + created.bodyAsJsonObject().getString("id"))
          .sendJsonObject(new JsonObject().put("status", "completed")))
      .onComplete(ar -> recordAnswer(started, ar.succeeded() ? ar.result() : null, ar.cause()));
  }

  private void recordAnswer(long started, HttpResponse<Buffer> response, Throwable failure) {
    Outcome outcome;
    if (response == null) {
      outcome = new Outcome(started, 0, null, null, String.valueOf(failure));
    } else if (response.statusCode() != 200) {
      outcome = new Outcome(started, response.statusCode(), null, null, response.bodyAsString());
    } else {
      JsonObject billing = response.bodyAsJsonObject().getJsonObject("billing");
      outcome = new Outcome(started, 200, billing.getString("charge_id"), billing.getString("status"),
        billing.getString("dapr_error_code", billing.getString("error")));
    }
    record(outcome);
  }

  /** Whether the last {@code n} completions started after {@code ms} were all charged at once. */
  boolean lastCharged(long ms, int n) {
    return last(ms, n, Outcome::chargedAtOnce);
  }
}
