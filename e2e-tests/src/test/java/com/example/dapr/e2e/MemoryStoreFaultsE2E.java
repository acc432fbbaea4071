package com.example.dapr.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedded default (Dapr's in-memory store, inside todo-api's sidecar): what must survive there is a SIGKILL of
 * todo-api itself, with notifications waiting in the outbox (its Redis Streams) while every replica is down; and, as
 * on any store, a replica's sidecar dying.
 */
class MemoryStoreFaultsE2E extends AgainstEmbeddedSystem {

  private FaultSuite suite;

  MemoryStoreFaultsE2E() {
    super("faults-memory", TestSystems.offset("faults-memory"), java.util.Map.of("JAVA_OPTS", FaultSuite.JAVA_OPTS));
  }

  @BeforeAll
  void prepare() {
    suite = new FaultSuite(http, system);
  }

  @Test
  void oneReplicasSidecarKilledThenRestarted() throws Exception {
    suite.run("in-memory store: notification-3's daprd SIGKILLed for 10 s", false,
      suite.killedFor(10_000, "notification-3-daprd"));
  }

  @Test
  void todoApiSigkilledWithNotificationsInFlightLosesNothing() throws Exception {
    suite.run("in-memory store: todo-api SIGKILLed with notifications pending, 5 s down", true,
      suite.todoApiKilledWithNotificationsPending());
  }
}
