package com.example.dapr.todo;

import io.vertx.core.json.JsonObject;

/** Counts of what became of notifications in this process, reported by readiness. Used from one event loop. */
final class NotificationStats {

  private long deliveredFirstAttempt;
  private long deliveredByOutbox;
  private long alreadyDelivered;
  private long waitedForFirstAttempt;
  private long retried;
  private long phantoms;
  private long givenUp;
  private long leftToOutbox;

  void delivered(boolean byOutbox) {
    if (byOutbox) {
      deliveredByOutbox++;
    } else {
      deliveredFirstAttempt++;
    }
  }

  /** An outbox event for a notification this process had delivered already: acknowledged, not sent again. */
  void alreadyDelivered() {
    alreadyDelivered++;
  }

  /**
   * An outbox event that came while its notification's first attempt was still under way, and waited for it: many of
   * these mean that first attempts take longer than the outbox's second.
   */
  void waitedForFirstAttempt() {
    waitedForFirstAttempt++;
  }

  /** An outbox event answered RETRY: Dapr will offer it again. */
  void retried() {
    retried++;
  }

  /** An outbox event whose task is not stored as announced: its transaction failed after Dapr published it. */
  void phantom() {
    phantoms++;
  }

  void givenUp() {
    givenUp++;
  }

  /** A first attempt that did not deliver its notification (yet): the outbox will. */
  void leftToOutbox() {
    leftToOutbox++;
  }

  JsonObject toJson() {
    return new JsonObject()
      .put("delivered_first_attempt", deliveredFirstAttempt)
      .put("delivered_by_outbox", deliveredByOutbox)
      .put("outbox_already_delivered", alreadyDelivered)
      .put("outbox_waited_for_first_attempt", waitedForFirstAttempt)
      .put("outbox_retries", retried)
      .put("outbox_phantoms", phantoms)
      .put("given_up", givenUp)
      .put("left_to_outbox", leftToOutbox);
  }
}
