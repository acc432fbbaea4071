package com.example.dapr.notification;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Smart batching, driven by hand: each call the batcher makes waits until the test completes it. */
class BatcherTest {

  private final List<List<Integer>> calls = new ArrayList<>();
  private final List<Promise<Void>> outcomes = new ArrayList<>();

  private Batcher<Integer> batcher(int maxBatch) {
    return new Batcher<>(maxBatch, items -> {
      calls.add(items);
      Promise<Void> outcome = Promise.promise();
      outcomes.add(outcome);
      return outcome.future();
    });
  }

  @Test
  void theFirstItemGoesAtOnceAndThoseThatArriveMeanwhileGoTogetherWhenItIsDone() {
    Batcher<Integer> batcher = batcher(100);

    Future<Void> first = batcher.submit(1);
    assertEquals(List.of(List.of(1)), calls, "nothing under way: sent at once, alone");
    List<Future<Void>> waiting = List.of(batcher.submit(2), batcher.submit(3), batcher.submit(4));
    assertEquals(1, calls.size(), "one call at a time");

    outcomes.get(0).complete();
    assertTrue(first.succeeded());
    assertEquals(List.of(2, 3, 4), calls.get(1));
    waiting.forEach(item -> assertFalse(item.isComplete()));

    outcomes.get(1).complete();
    waiting.forEach(item -> assertTrue(item.succeeded()));
    assertEquals(2, calls.size());
  }

  @Test
  void aBatchHoldsAtMostMaxBatchItemsAndTheRestGoNext() {
    Batcher<Integer> batcher = batcher(2);
    for (int i = 1; i <= 6; i++) {
      batcher.submit(i);
    }
    outcomes.get(0).complete();
    outcomes.get(1).complete();
    outcomes.get(2).complete();
    assertEquals(List.of(List.of(1), List.of(2, 3), List.of(4, 5), List.of(6)), calls);
  }

  @Test
  void aFailedCallFailsEveryItemItCarriedAndTheNextBatchStillGoes() {
    Batcher<Integer> batcher = batcher(100);
    batcher.submit(1);
    Future<Void> second = batcher.submit(2);
    Future<Void> third = batcher.submit(3);
    outcomes.get(0).complete();
    Future<Void> fourth = batcher.submit(4);

    outcomes.get(1).fail("ERR_STATE_SAVE");
    assertEquals("ERR_STATE_SAVE", second.cause().getMessage());
    assertEquals("ERR_STATE_SAVE", third.cause().getMessage());
    assertEquals(List.of(4), calls.get(2));
    outcomes.get(2).complete();
    assertTrue(fourth.succeeded());
  }

  @Test
  void withALingerItemsWaitForOthersAndAFlushSendsThemAtOnce() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Promise<Void> flushed = Promise.promise();
      vertx.runOnContext(v -> {
        Batcher<Integer> batcher = new Batcher<>(vertx, 100, 600_000, items -> {
          calls.add(items);
          return Future.succeededFuture();
        });
        batcher.submit(1);
        batcher.submit(2);
        if (!calls.isEmpty()) {
          flushed.fail("sent before its linger: " + calls);
          return;
        }
        batcher.flush().onComplete(flushed);
      });
      flushed.future().await(10, TimeUnit.SECONDS);
      assertEquals(List.of(List.of(1, 2)), calls, "both in one call, on the flush, not after ten minutes");

      Promise<List<List<Integer>>> lingered = Promise.promise();
      List<List<Integer>> lingeredCalls = new ArrayList<>();
      vertx.runOnContext(v -> {
        Batcher<Integer> batcher = new Batcher<>(vertx, 3, 20, items -> {
          lingeredCalls.add(items);
          return Future.succeededFuture();
        });
        List<Future<Void>> items = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
          items.add(batcher.submit(i));
        }
        Future.all(items).onComplete(done -> lingered.complete(lingeredCalls));
      });
      assertEquals(List.of(List.of(1, 2, 3), List.of(4)), lingered.future().await(10, TimeUnit.SECONDS),
        "a full batch goes at once; the rest after the linger");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCallThatThrowsFailsItsItemsInsteadOfStoppingTheBatcher() {
    Batcher<Integer> batcher = new Batcher<>(10, items -> {
      if (items.contains(1)) {
        throw new IllegalStateException("cannot encode");
      }
      return Future.succeededFuture();
    });
    assertEquals("cannot encode", batcher.submit(1).cause().getMessage());
    assertTrue(batcher.submit(2).succeeded());
    assertThrows(IllegalArgumentException.class, () -> new Batcher<Integer>(0, items -> Future.succeededFuture()));
  }

  /**
   * The CI failure of 2026-12-02: a replica's "Notification received" line carried another request's trace_id, because
   * the claim that carried it was sent (and answered) on that other request's context. Each request here has its own
   * duplicated context, as Vert.x's HTTP server gives each request; the batch call answers on the context it was
   * sent from.
   */
  @Test
  void eachItemsOutcomeReachesItsSubmitterOnTheContextItWasSubmittedFrom() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      ContextInternal loop = (ContextInternal) vertx.getOrCreateContext();
      ContextInternal first = loop.duplicate();
      ContextInternal second = loop.duplicate();
      // Each call answers on the context that made it, as a WebClient response does: the first only once item 2 was
      // submitted (so that it is submitted while the first call is under way, however the threads are scheduled),
      // the next at once.
      List<Runnable> firstAnswer = new ArrayList<>();
      Batcher<Integer> batcher = new Batcher<>(100, items -> {
        calls.add(items);
        Promise<Void> answered = Promise.promise();
        Context caller = Vertx.currentContext();
        if (calls.size() == 1) {
          firstAnswer.add(() -> caller.runOnContext(x -> answered.complete()));
        } else {
          caller.runOnContext(x -> answered.complete());
        }
        return answered.future();
      });
      CompletableFuture<List<Context>> seen = new CompletableFuture<>();
      List<Context> contexts = new ArrayList<>();
      first.runOnContext(v -> {
        batcher.submit(1).onComplete(done -> contexts.add(Vertx.currentContext()));
        // Submitted by another request while the first call is under way: it goes in the next call, which the
        // first call's answer sends, on the first request's context.
        second.runOnContext(w -> {
          batcher.submit(2).onComplete(done -> {
            contexts.add(Vertx.currentContext());
            seen.complete(contexts);
          });
          firstAnswer.forEach(Runnable::run);
        });
      });
      List<Context> result = seen.get(30, TimeUnit.SECONDS);
      assertEquals(List.of(List.of(1), List.of(2)), calls, "two calls, one item each");
      assertSame(first, result.get(0), "item 1's outcome on its own request's context");
      assertSame(second, result.get(1), "item 2's outcome on its own request's context, not on the first's");
    } finally {
      vertx.close().await();
    }
  }
}
