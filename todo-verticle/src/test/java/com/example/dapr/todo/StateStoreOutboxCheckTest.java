package com.example.dapr.todo;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link OutboxCheck} against {@link FakeSidecar}: a store without the outbox (a transaction's projection is one more
 * upsert, as Dapr does for a component without outboxPublishPubsub/outboxPublishTopic) is told and never gets a
 * notification over a task; a store with it is checked once and its check's event never reaches notification-service.
 */
@ExtendWith(VertxExtension.class)
class StateStoreOutboxCheckTest {

  private Vertx vertx;
  private FakeSidecar sidecar;
  private WebClient client;
  private int port;

  @BeforeEach
  void startSidecar(Vertx vertx) throws Exception {
    this.vertx = vertx;
    this.sidecar = new FakeSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    this.client = WebClient.create(vertx);
  }

  private void deploy(String... overrides) throws Exception {
    TodoVerticle verticle = new TodoVerticle(sidecar.todoApiConfig(overrides));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
  }

  private Future<HttpResponse<Buffer>> sendAsync(HttpMethod method, String path, JsonObject body, String... headers) {
    var request = client.request(method, port, "127.0.0.1", path);
    for (int i = 0; i < headers.length; i += 2) {
      request.putHeader(headers[i], headers[i + 1]);
    }
    return body == null ? request.send() : request.sendJsonObject(body);
  }

  private HttpResponse<Buffer> send(HttpMethod method, String path, JsonObject body, String... headers)
    throws Exception {
    return sendAsync(method, path, body, headers).await(15, TimeUnit.SECONDS);
  }

  private JsonObject outboxCheckEntry(HttpResponse<Buffer> readiness) {
    return readiness.bodyAsJsonObject().getJsonArray("checks").stream().map(JsonObject.class::cast)
      .filter(check -> check.getString("id").equals("state-store-outbox")).findFirst().orElseThrow();
  }

  /** A task stored as a seed user's earlier run, or a user's own script, would have written it. */
  private String storedTask(String title) {
    String id = UUID.randomUUID().toString();
    sidecar.put(Task.stateKey(id), new Task(id, title, Task.PENDING, "2026-12-03T10:00:00Z", null, 1).toJson());
    return id;
  }

  private static void assertRefusedWithoutOutbox(HttpResponse<Buffer> response) {
    assertEquals(503, response.statusCode(), response.bodyAsString());
    JsonObject body = response.bodyAsJsonObject();
    assertEquals("STATE_STORE_WITHOUT_OUTBOX", body.getString("error"), body::encode);
    assertTrue(body.getString("message").contains("'statestore'"), body::encode);
    assertEquals(new JsonArray(List.of("outboxPublishPubsub", "outboxPublishTopic")),
      body.getJsonArray("missing_metadata"), body::encode);
  }

  @Test
  void withoutTheOutboxReadinessIsDownNamingTheComponentAndTheMissingMetadata() throws Exception {
    sidecar.withoutOutbox = true;
    deploy();
    sidecar.awaitOutboxCheck(vertx);

    HttpResponse<Buffer> ready = send(HttpMethod.GET, "/health/ready", null);
    assertEquals(503, ready.statusCode(), ready.bodyAsString());
    JsonObject entry = outboxCheckEntry(ready);
    assertEquals("DOWN", entry.getString("status"), entry::encode);
    JsonObject data = entry.getJsonObject("data");
    assertEquals("statestore", data.getString("component"), entry::encode);
    assertEquals("STATE_STORE_WITHOUT_OUTBOX", data.getString("error"), entry::encode);
    assertEquals(new JsonArray(List.of("outboxPublishPubsub", "outboxPublishTopic")),
      data.getJsonArray("missing_metadata"), entry::encode);
    assertTrue(data.getString("message").contains("outboxPublishPubsub and outboxPublishTopic"), entry::encode);
    // The check's own key is gone again, whatever the store kept of it.
    assertEquals(0, sidecar.storedCount(), sidecar.keys().encode());
  }

  @Test
  void withoutTheOutboxACreateIsRefusedBeforeAnythingIsWritten() throws Exception {
    sidecar.withoutOutbox = true;
    deploy();
    sidecar.awaitOutboxCheck(vertx);

    assertRefusedWithoutOutbox(send(HttpMethod.POST, "/tasks", new JsonObject().put("title", "Plain store")));
    // With an Idempotency-Key, not even the reservation is written.
    assertRefusedWithoutOutbox(send(HttpMethod.POST, "/tasks", new JsonObject().put("title", "Plain store"),
      "Idempotency-Key", "plain-1"));

    assertEquals(List.of(), sidecar.dataCalls(), "nothing written, nothing read, nothing sent");
    assertEquals(0, sidecar.storedCount(), sidecar.keys().encode());
    assertEquals(List.of(), sidecar.deliveredIds());
  }

  @Test
  void withoutTheOutboxACompletionIsRefusedAndTheTaskStaysAsItWas() throws Exception {
    sidecar.withoutOutbox = true;
    String id = storedTask("Finish me");
    JsonObject before = sidecar.value(Task.stateKey(id));
    deploy();
    sidecar.awaitOutboxCheck(vertx);

    assertRefusedWithoutOutbox(send(HttpMethod.PATCH, "/tasks/" + id, new JsonObject().put("status", "completed")));

    assertEquals(before, sidecar.value(Task.stateKey(id)), "the task reads back as it was written");
    assertEquals(List.of(), sidecar.stateSaves(), "no save, no transaction");
    assertEquals(List.of(), sidecar.deliveredIds());
  }

  @Test
  void withoutTheOutboxATitleOnlyUpdateIsOnePlainSaveAndWorks() throws Exception {
    sidecar.withoutOutbox = true;
    String id = storedTask("Old title");
    deploy();
    sidecar.awaitOutboxCheck(vertx);

    HttpResponse<Buffer> updated = send(HttpMethod.PATCH, "/tasks/" + id, new JsonObject().put("title", "New title"));

    assertEquals(200, updated.statusCode(), updated.bodyAsString());
    JsonObject stored = sidecar.value(Task.stateKey(id));
    assertEquals("New title", stored.getString("title"), stored::encode);
    assertEquals(id, stored.getString("id"), stored::encode);
    assertEquals(2, stored.getInteger("version"), stored::encode);
    assertEquals(List.of(), sidecar.transactions(), "a plain save, no transaction");
    HttpResponse<Buffer> read = send(HttpMethod.GET, "/tasks/" + id, null);
    assertEquals(stored, read.bodyAsJsonObject(), "reads back as written");
  }

  @Test
  void withTheOutboxTheCheckPassesAndItsEventIsDroppedWithoutANotification() throws Exception {
    deploy();
    sidecar.awaitOutboxCheck(vertx);

    HttpResponse<Buffer> ready = send(HttpMethod.GET, "/health/ready", null);
    assertEquals("UP", outboxCheckEntry(ready).getString("status"), ready.bodyAsString());
    List<JsonObject> events = sidecar.outboxCheckEvents();
    assertEquals(1, events.size(), "the check's projection is published, not stored: " + events);
    assertEquals(0, sidecar.storedCount(), sidecar.keys().encode());

    // Posted to todo-api as daprd's bulk subscribe posts it.
    JsonObject bulk = new JsonObject().put("entries", new JsonArray().add(new JsonObject().put("entryId", "e-1")
        .put("event", events.get(0)).put("contentType", "application/cloudevents+json")
        .put("metadata", new JsonObject())))
      .put("id", "bulk-1").put("pubsubname", "pubsub").put("topic", "notifications");
    HttpResponse<Buffer> answer = send(HttpMethod.POST, OutboxSubscriber.ROUTE, bulk);
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    assertEquals("SUCCESS", answer.bodyAsJsonObject().getJsonArray("statuses").getJsonObject(0).getString("status"));
    assertEquals(List.of(), sidecar.invocations(), "nothing sent to notification-service");
    assertEquals(List.of(), sidecar.deliveredIds());
    assertEquals(List.of(), sidecar.dataCalls(), "not even a read of a task");
    // Not counted as anything that happened to a notification (a malformed event would count as given up).
    JsonObject counts = send(HttpMethod.GET, "/health/ready", null).bodyAsJsonObject().getJsonArray("checks").stream()
      .map(JsonObject.class::cast).filter(c -> c.getString("id").equals("notifications")).findFirst().orElseThrow()
      .getJsonObject("data");
    assertEquals(0L, counts.getLong("given_up"), counts::encode);
    assertEquals(0L, counts.getLong("outbox_phantoms"), counts::encode);
  }

  @Test
  void aCreateWaitsForACheckStillUnderWayThenGoesAhead() throws Exception {
    sidecar.stateMode = FakeSidecar.Mode.FAIL;
    deploy("STATE_TIMEOUT_MS", "10000");
    Future<HttpResponse<Buffer>> create = sendAsync(HttpMethod.POST, "/tasks", new JsonObject().put("title", "Early"));
    // The check keeps trying while the store fails; the create is still waiting after two more of its attempts.
    int attempts = sidecar.outboxCheckCalls().size();
    eventually("two more attempts of the check", () -> sidecar.outboxCheckCalls().size() >= attempts + 2);
    assertFalse(create.isComplete(), () -> "answered while the check was under way: " + create.result().bodyAsString());
    assertEquals(List.of(), sidecar.dataCalls(), "the create has written nothing yet");

    sidecar.stateMode = FakeSidecar.Mode.OK;
    HttpResponse<Buffer> created = create.await(15, TimeUnit.SECONDS);
    assertEquals(201, created.statusCode(), created.bodyAsString());
    assertEquals(1, sidecar.transactions().size());
  }

  @Test
  void aCreateThatWaitedTheStateTimeoutForTheCheckIsRefusedWithNothingWritten() throws Exception {
    sidecar.stateMode = FakeSidecar.Mode.FAIL;
    deploy("STATE_TIMEOUT_MS", "200");

    HttpResponse<Buffer> refused = send(HttpMethod.POST, "/tasks", new JsonObject().put("title", "Too early"));

    assertEquals(503, refused.statusCode(), refused.bodyAsString());
    assertEquals("OUTBOX_CHECK_PENDING", refused.bodyAsJsonObject().getString("error"), refused.bodyAsString());
    assertEquals("1", refused.getHeader("Retry-After"));
    assertEquals(List.of(), sidecar.dataCalls());
  }

  private void eventually(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.call()) {
      if (System.nanoTime() > deadline) {
        fail("not within 10 s: " + what);
      }
      vertx.timer(20).await(30, TimeUnit.SECONDS);
    }
  }
}
