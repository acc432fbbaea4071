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
    super("faults-memory", 900);
  }

  @BeforeAll
  void prepare() {
    suite = new FaultSuite(http, system);
  }

  @Test
  void oneReplicasSidecarKilledThenRestarted() throws Exception {
    suite.run("in-memory store: notification-3's daprd SIGKILLed for 10 s", traffic -> {
      system.kill("notification-3-daprd");
      suite.pause(10_000);
      system.restart("notification-3-daprd");
      return traffic.nowMs();
    });
  }

  @Test
  void todoApiSigkilledWithNotificationsInFlightLosesNothing() throws Exception {
    suite.run("in-memory store: todo-api SIGKILLed with notifications pending, 5 s down", traffic -> {
      for (int k = 1; k <= 3; k++) {
        system.kill("notification-" + k);
      }
      suite.pause(3_000);
      system.kill("todo-api");
      for (int k = 1; k <= 3; k++) {
        system.restart("notification-" + k);
      }
      suite.pause(5_000);
      system.restart("todo-api");
      return traffic.nowMs();
    });
  }
}
