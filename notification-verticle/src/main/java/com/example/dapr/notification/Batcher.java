package com.example.dapr.notification;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Batching of one kind of call to the sidecar (group commit), one call under way at a time. Without a linger, an item
 * submitted while no call is under way goes at once, alone, and items submitted while one is under way wait for it and
 * then go together: a quiet replica pays no latency, a busy one makes one call for many items. With a linger, an item
 * waits up to that long for others to join it (for calls nobody waits on). A batch holds at most {@code maxBatch}
 * items. Not thread-safe: use it from one event loop (the verticle's).
 *
 * <p>An item's outcome reaches its submitter on the Vert.x context it was submitted from (the request's duplicated
 * context), not on the context of the request whose call happened to carry the batch: that context holds the
 * request's span, so what the submitter does next (its log lines, its calls) stays in its own trace.
 *
 * @param <T> what one item is
 */
final class Batcher<T> {

  private record Pending<T>(T item, Promise<Void> done, Context context) {

    void complete(AsyncResult<Void> outcome) {
      if (context == null || context == Vertx.currentContext()) {
        done.handle(outcome);
      } else {
        context.runOnContext(v -> done.handle(outcome));
      }
    }
  }

  private final Vertx vertx;
  private final int maxBatch;
  private final long lingerMs;
  private final Function<List<T>, Future<Void>> send;
  private final ArrayDeque<Pending<T>> queue = new ArrayDeque<>();
  private List<Pending<T>> sending = List.of();
  private long timer = -1;
  private boolean flushing;

  /** Sends each batch as soon as no call is under way. {@code send} makes one call; its outcome is every item's. */
  Batcher(int maxBatch, Function<List<T>, Future<Void>> send) {
    this(null, maxBatch, 0, send);
  }

  /** Lets an item wait up to {@code lingerMs} (0: none) for others to join its batch. */
  Batcher(Vertx vertx, int maxBatch, long lingerMs, Function<List<T>, Future<Void>> send) {
    if (maxBatch < 1 || lingerMs < 0 || lingerMs > 0 && vertx == null) {
      throw new IllegalArgumentException("maxBatch must be at least 1 and a linger needs Vert.x's timers");
    }
    this.vertx = vertx;
    this.maxBatch = maxBatch;
    this.lingerMs = lingerMs;
    this.send = send;
  }

  /** Completes when the call that carried {@code item} succeeded; fails as that call failed. */
  Future<Void> submit(T item) {
    Promise<Void> done = Promise.promise();
    queue.add(new Pending<>(item, done, Vertx.currentContext()));
    schedule();
    return done.future();
  }

  /** Sends what waits without lingering any longer, from now on; completes when every item submitted so far is done. */
  Future<Void> flush() {
    flushing = true;
    List<Future<Void>> all = new ArrayList<>();
    sending.forEach(pending -> all.add(pending.done().future()));
    queue.forEach(pending -> all.add(pending.done().future()));
    schedule();
    return Future.join(all).mapEmpty();
  }

  private void schedule() {
    if (!sending.isEmpty() || queue.isEmpty()) {
      return;
    }
    if (lingerMs == 0 || flushing || queue.size() >= maxBatch) {
      sendNext();
    } else if (timer == -1) {
      timer = vertx.setTimer(lingerMs, id -> {
        timer = -1;
        sendNext();
      });
    }
  }

  private void sendNext() {
    if (!sending.isEmpty() || queue.isEmpty()) {
      return;
    }
    if (timer != -1) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
    List<Pending<T>> batch = new ArrayList<>(Math.min(queue.size(), maxBatch));
    while (batch.size() < maxBatch && !queue.isEmpty()) {
      batch.add(queue.poll());
    }
    sending = batch;
    Future<Void> sent;
    try {
      sent = send.apply(batch.stream().map(Pending::item).toList());
    } catch (RuntimeException e) {
      sent = Future.failedFuture(e);
    }
    sent.onComplete(outcome -> {
      sending = List.of();
      for (Pending<T> pending : batch) {
        pending.complete(outcome);
      }
      schedule();
    });
  }
}
