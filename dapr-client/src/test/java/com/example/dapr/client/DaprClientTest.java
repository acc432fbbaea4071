package com.example.dapr.client;

import com.example.dapr.client.DaprState.Item;
import com.example.dapr.client.DaprState.Operation;
import com.example.dapr.client.SidecarException.Kind;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against a stand-in sidecar: a loopback HTTP server that records each request (method, path, headers,
 * body) and answers the way daprd 1.18 does for the case at hand (DaprClientE2E checks the same against real daprd).
 */
class DaprClientTest {

  private static final String TOKEN = "test-token";

  /** A request as the sidecar received it. */
  record Received(String method, String path, MultiMap headers, Buffer body) {
    JsonObject json() {
      return body.toJsonObject();
    }
  }

  private Vertx vertx;
  private HttpServer server;
  private final List<Received> received = new CopyOnWriteArrayList<>();
  private volatile Consumer<HttpServerRequest> answer = request -> request.response().setStatusCode(204).end();
  private DaprTransport transport;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    server = vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      received.add(new Received(request.method().name(), request.uri(), request.headers(), body));
      answer.accept(request);
    })).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    transport = transport(server.actualPort(), 2_000);
  }

  private DaprTransport transport(int port, long timeoutMs) {
    return new DaprTransport(vertx, new DaprTransport.Options("127.0.0.1", port, TOKEN, 4, 16, timeoutMs, "test",
      "dapr-test"));
  }

  @AfterEach
  void stop() throws Exception {
    transport.close();
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private void answer(int status, String body) {
    answer = request -> request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
      .end(body);
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.await(10, TimeUnit.SECONDS);
  }

  private static SidecarException failure(Future<?> future) throws Exception {
    try {
      future.await(10, TimeUnit.SECONDS);
    } catch (SidecarException e) {
      return e;
    }
    throw new AssertionError("expected a SidecarException, the call succeeded");
  }

  @Test
  void aSaveSendsDaprsStateJsonWithTheApiToken() throws Exception {
    DaprState state = new DaprState(transport, "statestore", 2_000);
    await(state.save("save two", List.of(
      Item.of("a", new JsonObject().put("n", 1)).ttlSeconds(60),
      Item.of("b", new JsonObject().put("n", 2)).ifEtag("7"),
      Item.of("c", new JsonObject()).ifAbsent())));

    Received save = received.get(0);
    assertEquals("POST", save.method());
    assertEquals("/v1.0/state/statestore", save.path());
    assertEquals(TOKEN, save.headers().get("dapr-api-token"));
    assertEquals("application/json", save.headers().get("Content-Type"));
    assertEquals(new JsonArray()
      .add(new JsonObject().put("key", "a").put("value", new JsonObject().put("n", 1))
        .put("metadata", new JsonObject().put("ttlInSeconds", "60")))
      .add(new JsonObject().put("key", "b").put("value", new JsonObject().put("n", 2)).put("etag", "7")
        .put("options", new JsonObject().put("concurrency", "first-write")))
      .add(new JsonObject().put("key", "c").put("value", new JsonObject())
        .put("options", new JsonObject().put("concurrency", "first-write"))), save.body().toJsonArray());
  }

  @Test
  void aTransactionSendsItsOperations() throws Exception {
    DaprState state = new DaprState(transport, "statestore", 2_000);
    await(state.transaction("tx", List.of(
      Operation.upsert(Item.of("k", "text").with("outbox.projection", "true")), Operation.delete("old"))));
    Received tx = received.get(0);
    assertEquals("/v1.0/state/statestore/transaction", tx.path());
    assertEquals(new JsonObject().put("operations", new JsonArray()
      .add(new JsonObject().put("operation", "upsert").put("request", new JsonObject().put("key", "k")
        .put("value", "text").put("metadata", new JsonObject().put("outbox.projection", "true"))))
      .add(new JsonObject().put("operation", "delete").put("request", new JsonObject().put("key", "old")))), tx.json());
  }

  @Test
  void aGetAnswersTheValueAndItsEtagOrNullForAKeyWithoutOne() throws Exception {
    DaprState state = new DaprState(transport, "statestore", 2_000);
    answer = request -> request.response().putHeader("ETag", "3").end("{\"title\":\"x\"}");
    DaprState.Entry entry = await(state.get("task-1"));
    assertEquals(new JsonObject().put("title", "x"), entry.value());
    assertEquals("3", entry.etag());
    assertEquals("GET", received.get(0).method());
    assertEquals("/v1.0/state/statestore/task-1", received.get(0).path());

    answer = request -> request.response().setStatusCode(204).end();
    assertNull(await(state.get("task-2")));

    answer = request -> request.response().end("\"a string\"");
    assertEquals(Kind.ERROR_RESPONSE, failure(state.get("task-3")).kind());
    assertEquals("\"a string\"", await(state.getValue("task-3")).value().toString());
  }

  @Test
  void aConditionalWriteThatTheStoreRefusesIsARefusalAndAnUnconditionalOneAnError() throws Exception {
    DaprState state = new DaprState(transport, "statestore", 2_000);
    Item conditional = Item.of("k", new JsonObject()).ifAbsent();
    Item plain = Item.of("k", new JsonObject());
    // The in-memory store's answer to a taken key, Redis's, and every store's in a transaction.
    answer(409, "{\"errorCode\":\"ERR_STATE_SAVE\",\"message\":\"possible etag mismatch\"}");
    SidecarException memory = failure(state.save("insert k", List.of(conditional)));
    assertEquals(Kind.REFUSED, memory.kind());
    assertTrue(memory.isStoreRefusal());
    assertFalse(memory.isTransient());
    answer(500, "{\"errorCode\":\"ERR_STATE_SAVE\",\"message\":\"failed saving state\"}");
    assertEquals(Kind.REFUSED, failure(state.save("insert k", List.of(conditional))).kind());
    SidecarException unconditional = failure(state.save("save k", List.of(plain)));
    assertEquals(Kind.ERROR_RESPONSE, unconditional.kind());
    assertEquals("ERR_STATE_SAVE", unconditional.errorCode());
    assertTrue(unconditional.isTransient());
    answer(500, "{\"errorCode\":\"ERR_STATE_TRANSACTION\",\"message\":\"etag mismatch\"}");
    assertEquals(Kind.REFUSED, failure(state.transaction("tx", List.of(Operation.upsert(plain.ifEtag("1"))))).kind());
    assertEquals(Kind.ERROR_RESPONSE, failure(state.transaction("tx", List.of(Operation.upsert(plain)))).kind());
    answer(500, "{\"errorCode\":\"ERR_STATE_GET\",\"message\":\"fail\"}");
    assertEquals("get state k: fail", failure(state.get("k")).getMessage());
  }

  @Test
  void noAnswerIsATimeoutAndNoSidecarIsUnreachable() throws Exception {
    answer = request -> { }; // never answers
    transport.close();
    transport = transport(server.actualPort(), 200);
    SidecarException timeout = failure(new DaprState(transport, "s", 200).get("k"));
    assertEquals(Kind.TIMEOUT, timeout.kind());
    assertEquals("get state k: no answer from the sidecar within 200 ms", timeout.getMessage());
    assertTrue(timeout.isTransient());

    int closed;
    try (ServerSocket socket = new ServerSocket(0)) {
      closed = socket.getLocalPort();
    }
    DaprTransport nobody = transport(closed, 2_000);
    SidecarException unreachable = failure(new DaprState(nobody, "s", 2_000).get("k"));
    nobody.close();
    assertEquals(Kind.UNREACHABLE, unreachable.kind());
    assertTrue(unreachable.getMessage().contains("cannot connect to the Dapr sidecar at 127.0.0.1:" + closed),
      unreachable.getMessage());
  }

  @Test
  void anInvocationNamesItsTargetByPathOrByHeaderAndReadsTheAppsAnswer() throws Exception {
    answer(200, "{\"status\":\"delivered\"}");
    DaprInvoke byPath = new DaprInvoke(transport, "notification-service", "notify", DaprInvoke.Form.PATH, 2_000);
    assertEquals(new JsonObject().put("status", "delivered"), await(byPath.post(new JsonObject().put("a", 1))));
    assertEquals("/v1.0/invoke/notification-service/method/notify", received.get(0).path());
    assertEquals(new JsonObject().put("a", 1), received.get(0).json());

    DaprInvoke byHeader = new DaprInvoke(transport, "notification-service", "notify", DaprInvoke.Form.HEADER, 2_000);
    answer = request -> request.response().end();
    assertEquals(new JsonObject(), await(byHeader.post(new JsonObject())));
    assertEquals("/notify", received.get(1).path());
    assertEquals("notification-service", received.get(1).headers().get("dapr-app-id"));

    // Dapr's own error, and the app's, passed on by the sidecar.
    answer(500, "{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"failed to invoke, id: notification-service, err: "
      + "rpc error: code = Unavailable desc = connection error\"}");
    SidecarException dapr = failure(byPath.post(new JsonObject()));
    assertEquals("ERR_DIRECT_INVOKE", dapr.errorCode());
    assertTrue(dapr.neverReachedApp());
    answer(409, "{\"error\":\"NOTIFICATION_IN_PROGRESS\",\"message\":\"another replica\"}");
    SidecarException app = failure(byPath.post(new JsonObject()));
    assertEquals("NOTIFICATION_IN_PROGRESS", app.errorCode());
    assertEquals(409, app.status());
    assertEquals("invoke notification-service/notify: another replica", app.getMessage());
    assertFalse(app.isTransient());
  }

  @Test
  void aPublishAndABulkPublishUseDaprsPublishApis() throws Exception {
    DaprPubSub pubsub = new DaprPubSub(transport, "pubsub", 2_000);
    await(pubsub.publish("notifications", new JsonObject().put("id", "n1")));
    assertEquals("/v1.0/publish/pubsub/notifications", received.get(0).path());
    assertEquals(new JsonObject().put("id", "n1"), received.get(0).json());

    await(pubsub.publishBulk("notifications", List.of(new JsonObject().put("id", "n1"), new JsonObject().put("id",
      "n2"))));
    assertEquals("/v1.0-alpha1/publish/bulk/pubsub/notifications", received.get(1).path());
    JsonArray entries = received.get(1).body().toJsonArray();
    assertEquals(2, entries.size());
    assertEquals(new JsonObject().put("entryId", "1").put("event", new JsonObject().put("id", "n2"))
      .put("contentType", "application/json"), entries.getJsonObject(1));

    answer(500, "{\"errorCode\":\"ERR_PUBSUB_PUBLISH_MESSAGE\",\"message\":\"redis down\"}");
    assertEquals("ERR_PUBSUB_PUBLISH_MESSAGE", failure(pubsub.publish("t", new JsonObject())).errorCode());
  }

  @Test
  void aSubscriptionAndTheAnswersToEventsAreDaprsJson() {
    DaprPubSub pubsub = new DaprPubSub(transport, "pubsub", 2_000);
    assertEquals(new JsonObject().put("pubsubname", "pubsub").put("topic", "t").put("route", "/r")
      .put("deadLetterTopic", "t-retry").put("bulkSubscribe", new JsonObject().put("enabled", true)
        .put("maxMessagesCount", 500).put("maxAwaitDurationMs", 100L)), pubsub.subscription("t", "/r", "t-retry", 500, 100));
    assertFalse(pubsub.subscription("t", "/r", null, 1, 0).containsKey("bulkSubscribe"));
    assertEquals(new JsonObject().put("status", "RETRY"), DaprPubSub.answer(DaprPubSub.Status.RETRY));
    assertEquals(new JsonObject().put("entryId", "e1").put("status", "SUCCESS"),
      DaprPubSub.bulkEntry("e1", DaprPubSub.Status.SUCCESS));
  }

  @Test
  void outboundHealthIsTheSidecarsHealthzOutbound() throws Exception {
    await(transport.outboundHealth(2_000));
    assertEquals("/v1.0/healthz/outbound", received.get(0).path());
    answer(500, "{}");
    assertInstanceOf(SidecarException.class, failure(transport.outboundHealth(2_000)));
  }
}
