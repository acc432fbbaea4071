package com.example.dapr.e2e;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Faults under steady load against the embedded system with Redis as the store (the seed's, with persistence), counted
 * at the receiving end (see {@link FaultSuite}). The goal in every case: no accepted task lost, no notification lost,
 * none delivered twice. The replicas run with FAULT_INJECTION=true, for the slow case.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FaultsE2E extends AgainstEmbeddedSystem {

  private FaultSuite suite;

  FaultsE2E() {
    super("faults", TestSystems.offset("faults"), Map.of("NOTIFICATION_ENV", "FAULT_INJECTION=true", "JAVA_OPTS", FaultSuite.JAVA_OPTS),
      "--redis");
  }

  @BeforeAll
  void prepare() {
    suite = new FaultSuite(http, system);
  }

  @Test
  @Order(1)
  void oneOfThreeReplicasKilledThenRestarted() throws Exception {
    double opened = notifyBreakerOpenings();
    suite.run("one of three replicas SIGKILLed for 10 s", true, suite.killedFor(10_000, "notification-2"));
    // The two live replicas are not cut off with the dead one: what Dapr answers for the dead one never reached an
    // app, is sent again to another, and counts nothing against the breaker (todo-api's SidecarClient).
    assertEquals(opened, notifyBreakerOpenings(), "todo-api's notify breaker opened while one replica was down");
  }

  /** How many times todo-api's notification-service breaker opened so far, from its /metrics. */
  private double notifyBreakerOpenings() throws Exception {
    String scrape = http.get(system.todoPort(), "/metrics").bodyAsString();
    return scrape.lines().filter(l -> l.startsWith("todo_circuit_breaker_transitions_total{")
        && l.contains("breaker=\"invoke notification-service/notify\"") && l.contains("state=\"open\""))
      .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  @Test
  @Order(2)
  void allReplicasDownThenBack() throws Exception {
    FaultSuite.Result result = suite.run("all replicas down for " + FaultSuite.OUTAGE_MS / 1000 + " s", true,
      suite.killedFor(FaultSuite.OUTAGE_MS, "notification-1", "notification-2", "notification-3"));
    // No create waits out NOTIFY_TIMEOUT_MS on a dead replica: the sidecars behind the replicas answer at once that
    // their app cannot be reached (no Dapr retries, with the app policy of dapr/components/resiliency.yaml). That
    // never reached an app and does not count against todo-api's breaker, which opens only on what else fails (such
    // as Dapr's own breaker, open). So each create of the outage has its notification pending for ERR_DIRECT_INVOKE
    // or CIRCUIT_OPEN, never cut at todo-api's timeout.
    List<Traffic.Outcome> during = result.outcomes().stream().filter(o -> o.accepted()
      && o.startedMs() >= result.faultAtMs() && o.startedMs() < result.removedAtMs()).toList();
    List<Traffic.Outcome> waited = during.stream().filter(o -> "SIDECAR_TIMEOUT".equals(o.error())).toList();
    assertEquals(List.of(), waited.stream().limit(5).toList(), waited.size() + " of the " + during.size()
      + " creates during the outage waited for the notification timeout");
    // A call in flight to a replica as it is SIGKILLed may also get an answer that is not notification-service's
    // (seen: daprd's 200 with an empty body, 3 ms after it was sent): SIDECAR_ERROR, just as fast.
    Set<String> fast = Set.of("CIRCUIT_OPEN", "ERR_DIRECT_INVOKE", "SIDECAR_ERROR");
    List<Traffic.Outcome> pending = during.stream().filter(o -> !o.delivered()).toList();
    assertTrue(pending.stream().allMatch(o -> "pending".equals(o.notification()) && fast.contains(o.error())),
      () -> "pending for another reason: " + pending.stream().filter(o -> !fast.contains(o.error())).limit(5).toList());
    System.out.printf("all replicas down: of %d creates during the outage, %d delivered (before the last replica "
      + "died), pending by reason %s%n", during.size(), during.size() - pending.size(), pending.stream()
      .collect(java.util.stream.Collectors.groupingBy(Traffic.Outcome::error, java.util.TreeMap::new,
        java.util.stream.Collectors.counting())));
  }

  @Test
  @Order(3)
  void todoApiSigkilledWithNotificationsInFlightThenRestarted() throws Exception {
    suite.run("todo-api SIGKILLed with notifications pending, 5 s down", true,
      suite.todoApiKilledWithNotificationsPending());
  }

  @Test
  @Order(4)
  void todoApisSidecarKilledAndRestarted() throws Exception {
    suite.run("todo-api's daprd SIGKILLed, 5 s down", false, suite.killedFor(5_000, "todo-api-daprd"));
  }

  @Test
  @Order(5)
  void redisRestarted() throws Exception {
    suite.run("redis-server SIGKILLed, 5 s down, restarted from its append-only file", false,
      suite.killedFor(5_000, "redis"));
  }

  @Test
  @Order(6)
  void notificationServiceSlowerThanNotifyTimeout() throws Exception {
    suite.run("every replica 4 s slow (NOTIFY_TIMEOUT_MS 3 s) for 15 s", false, traffic -> {
      setDelay(4_000);
      suite.pause(15_000);
      setDelay(0);
      return traffic.nowMs();
    });
  }

  /** How many times todo-api's log (kept across its restarts) says its stop sequence ended. */
  private long stoppedLines() throws Exception {
    try (var lines = java.nio.file.Files.lines(system.logs().resolve("todo-api.log"))) {
      return lines.filter(l -> l.contains("stopped: every request answered")).count();
    }
  }

  private void setDelay(long ms) throws Exception {
    for (int k = 1; k <= 3; k++) {
      assertEquals(200, http.request(io.vertx.core.http.HttpMethod.PUT, system.replicaPort(k), "/faults")
        .sendJsonObject(new JsonObject().put("delay_ms", ms)).await(15, java.util.concurrent.TimeUnit.SECONDS)
        .statusCode());
    }
  }

  @Test
  @Order(7)
  void sigtermToTodoApiDrainsThenExits() throws Exception {
    AtomicLong readyDownAt = new AtomicLong(-1);
    AtomicLong exitedAfter = new AtomicLong();
    AtomicLong signalledAt = new AtomicLong();
    AtomicLong stoppedLinesBefore = new AtomicLong();
    FaultSuite.Result result = suite.run("SIGTERM to todo-api, restarted 3 s after it exited", false, traffic -> {
      long readinessPoller = http.vertx().setPeriodic(20, id -> http.client()
        .get(system.todoPort(), "127.0.0.1", "/health/ready").timeout(1_000).send()
        .onSuccess(r -> {
          if (r.statusCode() == 503 && readyDownAt.get() < 0) {
            readyDownAt.set(traffic.nowMs());
          }
        }));
      stoppedLinesBefore.set(stoppedLines());
      signalledAt.set(traffic.nowMs());
      exitedAfter.set(system.terminate("todo-api", 120_000));
      http.vertx().cancelTimer(readinessPoller);
      suite.pause(3_000);
      system.restart("todo-api");
      return traffic.nowMs();
    });
    // It exited by itself (not SIGKILLed at the limit) at the end of its stop sequence: the last line it logged.
    assertTrue(exitedAfter.get() >= 0, "todo-api still ran 120 s after SIGTERM");
    assertEquals(stoppedLinesBefore.get() + 1, stoppedLines(), "todo-api logged the end of its stop sequence");
    assertTrue(readyDownAt.get() >= signalledAt.get(), "readiness answered 503 while the process was stopping");
    long listenerClosedAt = result.outcomes().stream().filter(o -> o.status() == 0 && o.startedMs() > signalledAt.get())
      .mapToLong(Traffic.Outcome::startedMs).min().orElse(Long.MAX_VALUE);
    assertTrue(readyDownAt.get() < listenerClosedAt, "readiness went down before new connections were refused");
    List<Traffic.Outcome> startedBeforeClose = result.outcomes().stream()
      .filter(o -> o.startedMs() >= signalledAt.get() && o.startedMs() < listenerClosedAt).toList();
    assertTrue(startedBeforeClose.stream().allMatch(o -> o.status() == 201),
      "every request that reached todo-api before it closed its listener was answered: " + startedBeforeClose.stream()
        .filter(o -> o.status() != 201).limit(3).toList());
    System.out.printf("SIGTERM: readiness 503 after %d ms, requests answered until %d ms, process exited after %d ms%n",
      readyDownAt.get() - signalledAt.get(), listenerClosedAt == Long.MAX_VALUE ? -1
        : listenerClosedAt - signalledAt.get(), exitedAfter.get());
  }
}
