package com.example.dapr.notification;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
}
