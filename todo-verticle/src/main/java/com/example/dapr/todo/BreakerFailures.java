package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import io.vertx.core.json.JsonObject;

import java.net.ConnectException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * What one circuit breaker counted: each failure's cause, logged at most once per {@code logIntervalMs} (with how many
 * were not logged since, by cause), handed to the metrics, and kept until the breaker forgets it, so that the OPEN line
 * and {@code /health/ready} can name the failures that opened it. The breaker forgets its count on every call that it
 * does not count as a failure (vertx-circuit-breaker 5.0.8, {@code CircuitBreakerImpl.Completion#handle}: {@code
 * reset()}) and on failures older than its rolling window; {@link #forget()} and the window here follow it.
 */
final class BreakerFailures {

  private static final Logger LOG = Logger.getLogger(BreakerFailures.class.getName());

  private record Failure(long atMillis, String cause, String detail) {
  }

  /** Why the breaker is open: the counted failures that opened it, when, and until when it fails fast. */
  private record Opening(long sinceMillis, long untilMillis, Map<String, Integer> causes, String last) {
  }

  private final String breaker;
  private final long windowMs;
  private final long resetMs;
  private final long logIntervalMs;
  private final LongSupplier clock;
  private final BiConsumer<String, String> counter;
  private final Deque<Failure> counted = new ArrayDeque<>();
  private final Map<String, Integer> notLogged = new TreeMap<>();
  private boolean loggedAny;
  private long lastLineMillis;
  private Opening opening;

  /**
   * @param counter called with (breaker, cause) for each counted failure: the metrics
   * @param clock   milliseconds, {@link System#currentTimeMillis()} outside tests
   */
  BreakerFailures(String breaker, long windowMs, long resetMs, long logIntervalMs, LongSupplier clock,
                  BiConsumer<String, String> counter) {
    this.breaker = breaker;
    this.windowMs = windowMs;
    this.resetMs = resetMs;
    this.logIntervalMs = logIntervalMs;
    this.clock = clock;
    this.counter = counter;
  }

  /**
   * The cause label of a failed call, as the metrics and the log name it: {@code timeout}, {@code connection_refused},
   * {@code unreachable} (another connection failure), Dapr's error code ({@code ERR_DIRECT_INVOKE}, {@code
   * ERR_STATE_SAVE}, ...) or, for an error answer without one, {@code http_<status>}.
   */
  static String causeOf(Throwable failure) {
    if (failure instanceof SidecarException e) {
      return switch (e.kind()) {
        case TIMEOUT -> "timeout";
        case UNREACHABLE -> e.getCause() instanceof ConnectException ? "connection_refused" : "unreachable";
        case CIRCUIT_OPEN -> "circuit_open";
        case REFUSED, ERROR_RESPONSE -> e.errorCode() != null ? e.errorCode() : "http_" + e.status();
      };
    }
    if (failure instanceof io.vertx.circuitbreaker.TimeoutException
      || failure instanceof java.util.concurrent.TimeoutException) {
      return "timeout";
    }
    return failure instanceof ConnectException ? "connection_refused" : "unreachable";
  }

  /** A failure the breaker counts: counted in the metrics, kept, and logged unless a line was written just before. */
  synchronized void counted(String cause, String detail) {
    long now = clock.getAsLong();
    counted.addLast(new Failure(now, cause, detail));
    while (counted.size() > 1 && counted.peekFirst().atMillis() < now - windowMs) {
      counted.removeFirst();
    }
    counter.accept(breaker, cause);
    if (loggedAny && now - lastLineMillis < logIntervalMs) {
      notLogged.merge(cause, 1, Integer::sum);
      return;
    }
    String skipped = notLogged.isEmpty() ? "" : "; " + total(notLogged) + " more since the last line " + notLogged;
    notLogged.clear();
    loggedAny = true;
    lastLineMillis = now;
    LOG.warning(() -> "circuit breaker '" + breaker + "' counts a failure (" + cause + "): " + detail + skipped);
  }

  /** The breaker forgot its failures (a call it did not count as one). */
  synchronized void forget() {
    counted.clear();
  }

  /** The breaker opened: the line that says which failures opened it, and what readiness shows until it closes. */
  synchronized void opened() {
    long now = clock.getAsLong();
    Map<String, Integer> causes = new TreeMap<>();
    counted.forEach(f -> causes.merge(f.cause(), 1, Integer::sum));
    String last = counted.isEmpty() ? null : counted.peekLast().detail();
    opening = new Opening(now, now + resetMs, causes, last);
    counted.clear();
    LOG.warning(() -> "circuit breaker '" + breaker + "' OPEN after " + total(causes) + " failures " + causes
      + " (last: " + last + "): calls fail fast for " + resetMs + " ms, until " + Instant.ofEpochMilli(now + resetMs));
  }

  synchronized void closed() {
    opening = null;
  }

  /** Why the breaker is open or half-open (null when it never opened or closed since). */
  synchronized JsonObject why() {
    if (opening == null) {
      return null;
    }
    return new JsonObject()
      .put("since", Instant.ofEpochMilli(opening.sinceMillis()).toString())
      .put("until", Instant.ofEpochMilli(opening.untilMillis()).toString())
      .put("failures", counts(opening.causes()))
      .put("last_failure", opening.last());
  }

  private static JsonObject counts(Map<String, Integer> byCause) {
    JsonObject json = new JsonObject();
    byCause.forEach(json::put);
    return json;
  }

  private static int total(Map<String, Integer> byCause) {
    return byCause.values().stream().mapToInt(Integer::intValue).sum();
  }
}
