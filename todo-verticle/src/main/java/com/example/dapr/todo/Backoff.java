package com.example.dapr.todo;

import java.util.concurrent.ThreadLocalRandom;

/** Exponential backoff with full jitter: attempt n waits a random time in [0, min(max, initial * 2^n)]. */
record Backoff(long initialDelayMs, long maxDelayMs) {

  long delayMs(int attempt) {
    long ceiling = Math.min(maxDelayMs, initialDelayMs << Math.min(attempt, 30));
    // Never 0, so a retry always yields to the event loop before it goes again.
    return 1 + ThreadLocalRandom.current().nextLong(Math.max(1, ceiling));
  }
}
