package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NotifyFailuresTest {

  private final AtomicLong now = new AtomicLong(1_000_000);
  private final NotifyFailures counts = new NotifyFailures(10_000, now::get);

  /** Dapr 1.18.3's answer for a call whose replica died with it in flight (seen in FaultsE2E). */
  private static SidecarException lostMidway(String replica, String how) {
    return SidecarException.fromResponse("invoke notification-service/notify", 500, Buffer.buffer("{\"errorCode\":"
      + "\"ERR_DIRECT_INVOKE\",\"message\":\"failed to invoke, id: notification-service, err: rpc error: code = "
      + "Internal desc = error invoking app channel: Post \\\"http://" + replica + "/notify\\\": " + how + "\"}"));
  }

  @Test
  void theCallsOneReplicaHadInFlightWhenItDiedCountOnce() {
    assertTrue(counts.test(lostMidway("127.0.0.1:8802", "EOF")));
    for (int i = 0; i < 10; i++) {
      now.addAndGet(5);
      assertFalse(counts.test(lostMidway("127.0.0.1:8802", i % 2 == 0 ? "EOF" : "read: connection reset by peer")));
    }
    assertTrue(counts.test(lostMidway("127.0.0.1:8803", "EOF")), "another replica's counts");
    now.addAndGet(10_000);
    assertTrue(counts.test(lostMidway("127.0.0.1:8802", "EOF")), "the same replica again, a window later");
  }

  @Test
  void failuresOfTheServiceAsAWholeCountEveryTime() {
    SidecarException answered500 = SidecarException.fromResponse("invoke notification-service/notify", 500,
      Buffer.buffer("{\"error\":\"INTERNAL\",\"message\":\"boom\"}"));
    for (int i = 0; i < 5; i++) {
      assertTrue(counts.test(answered500));
      assertTrue(counts.test(new TimeoutException("no answer from the sidecar within 3000 ms")));
    }
  }

  @Test
  void aCallDaprsOwnBreakerKeptFromEveryReplicaDoesNotCount() {
    for (String err : new String[] {"circuit breaker is open", "too many requests"}) {
      assertFalse(counts.test(SidecarException.fromResponse("invoke notification-service/notify", 500, Buffer.buffer(
        "{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"failed to invoke, id: notification-service, err: " + err
          + "\"}"))), err);
    }
  }

  @Test
  void aCallThatNeverReachedAReplicaDoesNotCount() {
    assertFalse(counts.test(SidecarException.fromResponse("invoke notification-service/notify", 500, Buffer.buffer(
      "{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"failed to invoke, id: notification-service, err: rpc error: "
        + "code = Unavailable desc = error invoking app channel: Post \\\"http://127.0.0.1:8802/notify\\\": dial tcp "
        + "127.0.0.1:8802: connect: connection refused\"}"))));
  }
}
