package com.example.dapr.e2e;

import com.example.dapr.client.DaprInvoke;
import com.example.dapr.client.DaprPubSub;
import com.example.dapr.client.DaprState;
import com.example.dapr.client.DaprState.Item;
import com.example.dapr.client.DaprState.Operation;
import com.example.dapr.client.DaprTransport;
import com.example.dapr.client.SidecarException;
import com.example.dapr.client.SidecarException.Kind;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dapr-client module against real daprd 1.18 (scripts/run.sh's secure default, one replica): what each call
 * sends is what the sidecar accepts, and each error answer is read as the kind the services rely on. State through
 * todo-api's sidecar (the in-memory {@code statestore}) and notification-service's ({@code notificationstore}, Redis),
 * invocation and publishing through todo-api's.
 */
class DaprClientE2E extends AgainstEmbeddedSystem {

  DaprClientE2E() {
    super("dapr-client", TestSystems.offset("dapr-client"), "--replicas", "1");
  }

  private DaprTransport transport(int sidecarPort) throws Exception {
    return new DaprTransport(http.vertx(), new DaprTransport.Options("127.0.0.1", sidecarPort,
      system.tokenFor(sidecarPort), 4, 16, 5_000, "dapr-client-e2e", "dapr-client-e2e"));
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.await(30, TimeUnit.SECONDS);
  }

  private static SidecarException failure(Future<?> future) throws Exception {
    try {
      future.await(30, TimeUnit.SECONDS);
    } catch (SidecarException e) {
      return e;
    }
    throw new AssertionError("expected a SidecarException, the call succeeded");
  }

  @Test
  void conditionalWritesAreRefusedByBothStoresAndReadBackWithTheirEtags() throws Exception {
    DaprTransport todo = transport(system.todoSidecarPort());
    DaprTransport replica = transport(system.replicaSidecarPort(1));
    try {
      for (DaprState state : List.of(new DaprState(todo, "statestore", 5_000),
          new DaprState(replica, "notificationstore", 5_000))) {
        String key = "dapr-client-e2e-" + UUID.randomUUID();
        Item first = Item.of(key, new JsonObject().put("n", 1)).ttlSeconds(300);
        assertNull(await(state.get(key)), state.store());
        await(state.save("insert " + key, List.of(first.ifAbsent())));
        // A taken key: 409 from the in-memory store, 500 ERR_STATE_SAVE from Redis; both a refusal.
        SidecarException taken = failure(state.save("insert " + key, List.of(first.ifAbsent())));
        assertEquals(Kind.REFUSED, taken.kind(), state.store() + ": " + taken.getMessage());

        DaprState.Entry stored = await(state.get(key));
        assertEquals(new JsonObject().put("n", 1), stored.value(), state.store());
        assertNotNull(stored.etag(), state.store());
        SidecarException stale = failure(state.save("save " + key,
          List.of(Item.of(key, new JsonObject().put("n", 2)).ifEtag("999999"))));
        assertEquals(Kind.REFUSED, stale.kind(), state.store() + ": " + stale.getMessage());
        await(state.save("save " + key, List.of(Item.of(key, new JsonObject().put("n", 2)).ifEtag(stored.etag()))));
        assertEquals(new JsonObject().put("n", 2), await(state.get(key)).value(), state.store());

        // The replica's answers go in transactions: a stale ETag there is ERR_STATE_TRANSACTION, also a refusal.
        if (state.store().equals("notificationstore")) {
          SidecarException staleTx = failure(state.transaction("tx " + key,
            List.of(Operation.upsert(Item.of(key, new JsonObject()).ifEtag(stored.etag())))));
          assertEquals(Kind.REFUSED, staleTx.kind(), staleTx.getMessage());
          assertEquals("ERR_STATE_TRANSACTION", staleTx.errorCode(), staleTx.getMessage());
          await(state.transaction("tx " + key, List.of(Operation.delete(key))));
          assertNull(await(state.get(key)), "deleted by the transaction");
        } else {
          await(state.delete(key));
          assertNull(await(state.get(key)), "deleted");
        }
      }
      SidecarException noStore = failure(new DaprState(todo, "no-such-store", 5_000).get("k"));
      assertEquals("ERR_STATE_STORE_NOT_FOUND", noStore.errorCode(), noStore.getMessage());
    } finally {
      todo.close();
      replica.close();
    }
  }

  @Test
  void anInvocationReachesTheReplicaInBothFormsAndAnUnknownAppIsDaprsError() throws Exception {
    DaprTransport todo = transport(system.todoSidecarPort());
    try {
      for (DaprInvoke.Form form : DaprInvoke.Form.values()) {
        String id = "dapr-client-e2e-" + UUID.randomUUID() + ":created";
        JsonObject answer = await(new DaprInvoke(todo, "notification-service", "notify", form, 10_000)
          .post(new JsonObject().put("message", "Todo created: client e2e").put("task_id", "client-e2e")
            .put("notification_id", id)));
        assertEquals("delivered", answer.getString("status"), form + ": " + answer.encode());
        JsonObject seen = http.get(system.replicaPort(1), "/notifications?task_id=client-e2e").bodyAsJsonObject();
        assertTrue(seen.encode().contains(id), form + ": the replica has no " + id + ": " + seen.encode());
      }
      SidecarException unknown = failure(new DaprInvoke(todo, "no-such-app", "notify", DaprInvoke.Form.PATH, 10_000)
        .post(new JsonObject()));
      assertEquals("ERR_DIRECT_INVOKE", unknown.errorCode(), unknown.getMessage());
    } finally {
      todo.close();
    }
  }

  @Test
  void aPublishAndABulkPublishReachTheTopicsStream() throws Exception {
    DaprTransport todo = transport(system.todoSidecarPort());
    int redisPort = URI.create(system.url("redis")).getPort();
    String topic = "dapr-client-e2e-" + UUID.randomUUID();
    try {
      DaprPubSub pubsub = new DaprPubSub(todo, "pubsub", 5_000);
      await(pubsub.publish(topic, new JsonObject().put("id", "one")));
      await(pubsub.publishBulk(topic, List.of(new JsonObject().put("id", "two"), new JsonObject().put("id", "three"))));
      // Dapr's Redis pub/sub writes each message as one entry of the stream named as the topic.
      assertEquals("3", RedisCli.run(redisPort, "XLEN", topic));
      String entries = RedisCli.run(redisPort, "XRANGE", topic, "-", "+");
      for (String id : List.of("one", "two", "three")) {
        assertTrue(entries.contains("\\\"id\\\":\\\"" + id + "\\\"") || entries.contains("\"id\":\"" + id + "\""),
          id + " not in the stream: " + entries);
      }
      SidecarException noPubsub = failure(new DaprPubSub(todo, "no-such-pubsub", 5_000).publish(topic,
        new JsonObject()));
      assertEquals("ERR_PUBSUB_NOT_FOUND", noPubsub.errorCode(), noPubsub.getMessage());
    } finally {
      RedisCli.run(redisPort, "DEL", topic);
      todo.close();
    }
  }
}
