package com.example.dapr.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Faults against the real system: a replica's app killed, a replica's sidecar killed, every replica down. The traffic
 * is a steady 40 creates a second; what failed during each switch and how long recovery took is printed and written to
 * {@code target/e2e/failover.txt}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailoverE2E extends AgainstEmbeddedSystem {

  private static final int RATE = 40;
  /** The longest a create may take whatever fails: state 2 s (+ retries) and notify 3 s are the app's timeouts. */
  private static final long BOUNDED_MS = 10_000;

  FailoverE2E() {
    super("failover", 400);
  }

  @BeforeAll
  void forgetEarlierReports() throws Exception {
    Files.deleteIfExists(Path.of(System.getProperty("e2e.work", "target/e2e"), "failover.txt"));
  }

  private void report(String line) throws Exception {
    System.out.println(line);
    Files.writeString(Path.of(System.getProperty("e2e.work", "target/e2e"), "failover.txt"), line + "\n",
      StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  private void waitUntil(String what, long timeoutMs, Check check) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (!check.holds()) {
      if (System.nanoTime() > deadline) {
        fail("not within " + timeoutMs + " ms: " + what);
      }
      http.vertx().timer(100).await();
    }
  }

  @FunctionalInterface
  private interface Check {
    boolean holds() throws Exception;
  }

  /** What replica {@code k} counted as delivered, or -1 while it does not answer. */
  private long delivered(int k) {
    try {
      return http.get(system.replicaPort(k), "/notifications").bodyAsJsonObject().getLong("delivered");
    } catch (Exception notAnswering) {
      return -1;
    }
  }

  private static void assertAnsweredAndBounded(List<Traffic.Outcome> outcomes) {
    for (Traffic.Outcome outcome : outcomes) {
      assertEquals(201, outcome.status(), () -> "every create is still accepted: " + outcome);
      assertTrue(outcome.latencyMs() < BOUNDED_MS, () -> "bounded latency: " + outcome);
    }
  }

  /** Kills {@code name} under traffic, waits for 40 delivered in a row, restarts it; reports failures and recovery. */
  private void killAndRecover(String name, int replica) throws Exception {
    try (Traffic traffic = Traffic.start(http, system.todoPort(), RATE, 120)) {
      waitUntil("steady traffic", 20_000, () -> traffic.lastDelivered(0, RATE));
      long killedAt = traffic.nowMs();
      system.kill(name);
      waitUntil("40 notifications delivered in a row after killing " + name, 60_000,
        () -> traffic.lastDelivered(killedAt, RATE));
      List<Traffic.Outcome> failed = traffic.since(killedAt, o -> !o.delivered());
      long recoveredAfter = failed.isEmpty() ? 0 : failed.get(failed.size() - 1).startedMs() - killedAt;
      List<Traffic.Outcome> during = traffic.since(killedAt, o -> true);
      report(String.format("%s killed: %d of %d creates until 40 were delivered in a row had their notification "
          + "queued for redelivery instead of delivered at once (%s); the last of those started %d ms after the kill; "
          + "every create answered 201, max latency %d ms",
        name, failed.size(), during.size(), failed.stream().map(Traffic.Outcome::error).distinct().toList(),
        recoveredAfter, during.stream().mapToLong(Traffic.Outcome::latencyMs).max().orElse(0)));
      assertAnsweredAndBounded(during);

      system.restart(name);
      // A restarted app counts from 0; a restarted sidecar serves the app that kept its count.
      long before = name.endsWith("-daprd") ? delivered(replica) : 0;
      waitUntil(name + " serves again after its restart", 60_000, () -> delivered(replica) > before);
    }
  }

  @Test
  @Order(1)
  void killingOneReplicasAppKeepsTheSystemAnswering() throws Exception {
    killAndRecover("notification-2", 2);
  }

  @Test
  @Order(2)
  void killingOneReplicasSidecarKeepsTheSystemAnswering() throws Exception {
    killAndRecover("notification-3-daprd", 3);
  }

  @Test
  @Order(3)
  void withEveryReplicaDownTheBreakerOpensAndEverythingIsDeliveredOnceTheyReturn() throws Exception {
    try (Traffic traffic = Traffic.start(http, system.todoPort(), RATE, 120)) {
      waitUntil("steady traffic", 20_000, () -> traffic.lastDelivered(0, RATE));
      long downAt = traffic.nowMs();
      for (int k = 1; k <= 3; k++) {
        system.kill("notification-" + k);
      }
      waitUntil("the breaker opens: notifications fail fast with CIRCUIT_OPEN", 30_000,
        () -> !traffic.since(downAt, o -> "CIRCUIT_OPEN".equals(o.error())).isEmpty());
      long openAt = traffic.since(downAt, o -> "CIRCUIT_OPEN".equals(o.error())).get(0).startedMs();
      http.vertx().timer(2_000).await();
      List<Traffic.Outcome> open = traffic.since(openAt, o -> "CIRCUIT_OPEN".equals(o.error()));
      double openP99 = open.stream().mapToLong(Traffic.Outcome::latencyMs).sorted()
        .skip((long) Math.floor(open.size() * 0.99)).findFirst().orElse(0);

      long backAt = traffic.nowMs();
      for (int k = 1; k <= 3; k++) {
        system.restart("notification-" + k);
      }
      waitUntil("notifications are delivered again", 60_000, () -> traffic.lastDelivered(backAt, RATE));
      long recoveredAt = traffic.since(backAt, Traffic.Outcome::delivered).get(0).startedMs();
      List<Traffic.Outcome> all = traffic.since(downAt, o -> true);
      report(String.format("all replicas down: breaker open %d ms after the kill; %d creates answered while open, "
          + "p99 %.0f ms; first delivered %d ms after the restart; %d of %d creates in the outage queued for redelivery",
        openAt - downAt, open.size(), openP99, recoveredAt - backAt,
        traffic.since(downAt, o -> "pending".equals(o.notification())).size(), all.size()));
      assertAnsweredAndBounded(all);
      assertTrue(openP99 < 1_000, "fast failure once the breaker is open, p99 " + openP99 + " ms");
    }
    // Nothing lost: the notifications queued during the outage are redelivered to the replicas that came back.
    waitUntil("the redelivery queue drains", 120_000, () -> {
      var checks = http.get(system.todoPort(), "/health/ready").bodyAsJsonObject().getJsonArray("checks");
      for (int i = 0; i < checks.size(); i++) {
        var check = checks.getJsonObject(i);
        if (check.getString("id").equals("circuit-breakers")) {
          return check.getJsonObject("data").getInteger("notifications_pending_redelivery") == 0;
        }
      }
      return false;
    });
  }
}
