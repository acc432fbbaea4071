package com.example.dapr.e2e;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A steady stream of completions at a fixed rate: each a {@code POST /tasks}, then a {@code PATCH} of the task to
 * completed, its outcome recorded with its time. Bounded: it stops by itself after {@code maxSeconds}.
 */
final class Completions implements AutoCloseable {

  /**
   * One completion: when it started (ms since the stream began), what the PATCH answered (0: no answer, or the create
   * failed), and for a 200 the charge's id and status and the error it names.
   */
  record Outcome(long startedMs, int status, String chargeId, String billing, String error) {
    boolean accepted() {
      return status == 200;
    }

    boolean chargedAtOnce() {
      return accepted() && "charged".equals(billing);
    }
  }

  private final Http http;
  private final String host;
  private final int port;
  private final long startNanos = System.nanoTime();
  private final long timerId;
  private final List<Outcome> outcomes = new ArrayList<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final int limit;
  private volatile boolean stopped;

  Completions(Http http, int port, int perSecond, int maxSeconds) {
    this(http, "127.0.0.1", port, perSecond, maxSeconds);
  }

  /** To todo-api at {@code host}:{@code port} (the cluster's todo-api Service, for one). */
  Completions(Http http, String host, int port, int perSecond, int maxSeconds) {
    this.http = http;
    this.host = host;
    this.port = port;
    this.limit = perSecond * maxSeconds;
    this.timerId = http.vertx().setPeriodic(Math.max(1, 1000 / perSecond), id -> {
      if (stopped || requests.get() >= limit) {
        http.vertx().cancelTimer(id);
        return;
      }
      requests.incrementAndGet();
      complete();
    });
  }

  long nowMs() {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private void complete() {
    long started = nowMs();
    http.postAsync(host, port, "/tasks", new JsonObject().put("title", "completion " + started))
      .compose(created -> created.statusCode() != 201 ? Future.failedFuture("create answered "
        + created.statusCode() + ": " + created.bodyAsString())
        : http.request(HttpMethod.PATCH, host, port, "/tasks/" + created.bodyAsJsonObject().getString("id"))
          .sendJsonObject(new JsonObject().put("status", "completed")))
      .onComplete(ar -> record(started, ar.succeeded() ? ar.result() : null, ar.cause()));
  }

  private void record(long started, HttpResponse<Buffer> response, Throwable failure) {
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
    synchronized (outcomes) {
      outcomes.add(outcome);
    }
  }

  List<Outcome> outcomes() {
    synchronized (outcomes) {
      return new ArrayList<>(outcomes);
    }
  }

  /** Whether the last {@code n} completions started after {@code ms} were all charged at once. */
  boolean lastCharged(long ms, int n) {
    List<Outcome> after = outcomes().stream().filter(o -> o.startedMs() >= ms).toList();
    return after.size() >= n && after.subList(after.size() - n, after.size()).stream()
      .allMatch(Outcome::chargedAtOnce);
  }

  void stop() {
    stopped = true;
  }

  /** Whether every completion started has its outcome. */
  boolean settled() {
    return outcomes().size() >= requests.get();
  }

  @Override
  public void close() {
    stopped = true;
    http.vertx().cancelTimer(timerId);
  }
}
