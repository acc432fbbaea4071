package com.example.dapr.e2e;

import io.vertx.core.Future;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One fault under steady load, measured at the receiving end. The traffic is {@value #RATE} creates a second from
 * loopback; the fault is injected after a steady start and removed; the traffic goes on until notifications are
 * delivered at once again, then stops. Then every accepted task (answered 201) is read back through todo-api's sidecar,
 * and every accepted task's notification is looked for in the replicas' logs by its id. Each case writes one line to
 * {@code target/e2e/faults.txt}: requests, non-2xx answers, tasks stored, notifications delivered and delivered twice,
 * and the times to recover.
 */
final class FaultSuite {

  static final int RATE = 40;
  /** How long an outage lasts: 60 s by default, shorter in CI ({@code -De2e.outage.seconds=20}). */
  static final long OUTAGE_MS = Long.getLong("e2e.outage.seconds", 60) * 1_000;
  static final Path REPORT = Path.of(System.getProperty("e2e.work", "target/e2e"), "faults.txt");
  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  /** scripts/run.sh's JVM options, with todo-api's FINE decisions about each notification in its log. */
  static final String JAVA_OPTS = "-XX:+UseSerialGC -Xms32m -Xmx128m -XX:+ExitOnOutOfMemoryError "
    + "-Djava.util.logging.config.file="
    + ROOT.resolve("e2e-tests/src/test/resources/todo-api-fine-logging.properties");

  private final Http http;
  private final EmbeddedSystem system;

  FaultSuite(Http http, EmbeddedSystem system) {
    this.http = http;
    this.system = system;
  }

  /** A fault: injects it, waits, removes it; answers when it was removed, in the traffic's milliseconds. */
  @FunctionalInterface
  interface Fault {
    long injectAndRemove(Traffic traffic) throws Exception;
  }

  /** What one case measured. */
  record Result(String name, List<Traffic.Outcome> outcomes, int stored, Receipts.Tally tally, long faultAtMs,
                long removedAtMs, long recoveredAfterMs, long drainedAfterMs) {
    long non2xx() {
      return outcomes.stream().filter(o -> !o.accepted()).count();
    }

    long accepted() {
      return outcomes.stream().filter(Traffic.Outcome::accepted).count();
    }
  }

  /**
   * Runs {@code fault} under load and measures it; asserts nothing lost and, unless {@code killsReplicas}, nothing
   * delivered twice. A replica SIGKILLed between delivering a notification and recording its answer (one round trip)
   * has it delivered again once its claim times out: docs/durability.md, "What a crash can lose"; those are reported.
   */
  Result run(String name, boolean killsReplicas, Fault fault) throws Exception {
    Result result;
    try (Traffic traffic = Traffic.start(http, system.todoPort(), RATE, 600)) {
      waitUntil("steady traffic before " + name, 30_000, () -> traffic.lastDelivered(0, RATE));
      long faultAt = traffic.nowMs();
      long removedAt = fault.injectAndRemove(traffic);
      waitUntil("notifications delivered at once again after " + name, 120_000,
        () -> traffic.lastDelivered(removedAt, RATE));
      long recoveredAfter = traffic.since(removedAt, Traffic.Outcome::delivered).get(0).startedMs() - removedAt;
      traffic.stop();
      waitUntil("every request answered", 30_000, traffic::settled);
      List<Traffic.Outcome> outcomes = traffic.outcomes();
      List<String> ids = outcomes.stream().filter(Traffic.Outcome::accepted).map(Traffic.Outcome::notificationId)
        .toList();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
      Receipts.Tally tally = tally(ids);
      while (tally.lost() > 0 && System.nanoTime() < deadline) {
        http.vertx().timer(500).await(30, TimeUnit.SECONDS);
        tally = tally(ids);
      }
      long drainedAfter = traffic.nowMs() - removedAt;
      int stored = stored(outcomes);
      result = new Result(name, outcomes, stored, tally, faultAt, removedAt, recoveredAfter, drainedAfter);
    }
    report(result);
    assertEquals(result.accepted(), result.stored(), name + ": every accepted task is stored");
    assertEquals(0, result.tally().lost(), () -> name + ": no accepted task's notification is lost; lost: "
      + lostOutcomes(result));
    assertEquals(0, result.tally().recordedOnly(), name + ": a replica records an answer only after it delivered");
    if (!killsReplicas) {
      assertEquals(0, result.tally().duplicated(), name + ": no notification is delivered twice");
    }
    return result;
  }

  private Receipts.Tally tally(List<String> ids) throws Exception {
    int redisPort = java.net.URI.create(system.url("redis")).getPort();
    Map<String, Integer> before = Receipts.count(system.logs());
    java.util.Set<String> recorded = new java.util.HashSet<>();
    for (String id : ids) {
      if (!before.containsKey(id) && Receipts.recorded(redisPort, id)) {
        recorded.add(id);
      }
    }
    // Read the logs again after Redis: a replica logs before it records, so a record seen above has its line now.
    return Receipts.Tally.of(ids, Receipts.count(system.logs()), recorded::contains);
  }

  private static String lostOutcomes(Result result) {
    return result.tally().lostIds().stream().limit(10).map(id -> result.outcomes().stream()
      .filter(o -> id.equals(o.notificationId())).findFirst().map(Object::toString).orElse(id)).toList().toString();
  }

  /**
   * How many of the accepted tasks the state store has, read through todo-api's sidecar; a read that fails (rather
   * than answering 204, no such key) is asked again, up to 5 times. The ones not found are printed.
   */
  private int stored(List<Traffic.Outcome> outcomes) throws Exception {
    List<String> ids = outcomes.stream().filter(Traffic.Outcome::accepted).map(Traffic.Outcome::taskId).toList();
    List<Future<String>> reads = http.run(ids.size(), 16, i -> read(ids.get(i), 5));
    List<String> missing = reads.stream().filter(r -> r.failed() || r.result() != null).map(r -> r.failed()
      ? String.valueOf(r.cause()) : r.result()).toList();
    if (!missing.isEmpty()) {
      System.out.println("not stored: " + missing.stream().limit(10).toList());
    }
    return ids.size() - missing.size();
  }

  /** Null when task {@code id} is stored; else why not. */
  private Future<String> read(String id, int attemptsLeft) {
    return http.request(io.vertx.core.http.HttpMethod.GET, system.todoSidecarPort(), "/v1.0/state/statestore/task-" + id)
      .send()
      .map(r -> r.statusCode() == 200 ? null : "task-" + id + ": " + r.statusCode() + " " + r.bodyAsString())
      .recover(e -> Future.succeededFuture("task-" + id + ": " + e))
      .compose(why -> why == null || why.contains(": 204") || attemptsLeft <= 1 ? Future.succeededFuture(why)
        : http.vertx().timer(500).compose(t -> read(id, attemptsLeft - 1)));
  }

  private static void report(Result r) throws Exception {
    Map<Integer, Long> statuses = r.outcomes().stream().filter(o -> !o.accepted())
      .collect(java.util.stream.Collectors.groupingBy(Traffic.Outcome::status, java.util.TreeMap::new,
        java.util.stream.Collectors.counting()));
    long maxLatency = r.outcomes().stream().filter(Traffic.Outcome::accepted).mapToLong(Traffic.Outcome::latencyMs)
      .max().orElse(0);
    String line = String.format("%s: %d requests, %d non-2xx %s; %d accepted, %d of them stored; %d of %d "
        + "notifications delivered, %d twice, %d lost, %d recorded and not logged; fault "
        + "for %.1f s; delivered at once again %.1f s after, all received within %.1f s of it; slowest 201 %d ms",
      r.name(), r.outcomes().size(), r.non2xx(), statuses.isEmpty() ? "" : "(by status, 0 = no answer: " + statuses + ")",
      r.accepted(), r.stored(), r.tally().delivered(), r.tally().expected(), r.tally().duplicated(), r.tally().lost(),
      r.tally().recordedOnly(),
      (r.removedAtMs() - r.faultAtMs()) / 1000.0, r.recoveredAfterMs() / 1000.0, r.drainedAfterMs() / 1000.0,
      maxLatency);
    System.out.println(line);
    Files.createDirectories(REPORT.getParent());
    Files.writeString(REPORT, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  /** Polls {@code check} every 100 ms for at most {@code timeoutMs}. */
  void waitUntil(String what, long timeoutMs, Check check) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (!check.holds()) {
      if (System.nanoTime() > deadline) {
        fail("not within " + timeoutMs + " ms: " + what);
      }
      http.vertx().timer(100).await(30, TimeUnit.SECONDS);
    }
  }

  /** SIGKILLs every one of {@code names}, waits {@code ms}, starts them again as they were. */
  Fault killedFor(long ms, String... names) {
    return traffic -> {
      for (String name : names) {
        system.kill(name);
      }
      pause(ms);
      for (String name : names) {
        system.restart(name);
      }
      return traffic.nowMs();
    };
  }

  /**
   * todo-api SIGKILLed while notifications wait in the outbox: every replica is killed first for 3 s, so that the
   * first attempts fail; then todo-api is killed, the replicas come back, and todo-api 5 s later.
   */
  Fault todoApiKilledWithNotificationsPending() {
    return traffic -> {
      for (int k = 1; k <= 3; k++) {
        system.kill("notification-" + k);
      }
      pause(3_000);
      system.kill("todo-api");
      for (int k = 1; k <= 3; k++) {
        system.restart("notification-" + k);
      }
      pause(5_000);
      system.restart("todo-api");
      return traffic.nowMs();
    };
  }

  /** Waits {@code ms} on a Vert.x timer. */
  void pause(long ms) throws Exception {
    http.vertx().timer(ms).await(ms + 10_000, TimeUnit.MILLISECONDS);
  }

  @FunctionalInterface
  interface Check {
    boolean holds() throws Exception;
  }
}
