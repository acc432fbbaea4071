package com.example.dapr.notification;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.Checkpoint;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** notification-service on a random port, called the way its Dapr sidecar calls it. */
@ExtendWith(VertxExtension.class)
class NotificationVerticleTest {

  private static final String JSON = "application/json";
  /** Far longer than any test takes to act on a claim, so that a fresh claim never expires under a test's feet. */
  private static final long CLAIM_TIMEOUT_MS = 30_000;

  private Vertx vertx;
  private FakeStateSidecar sidecar;
  private WebClient client;
  private int port;

  @BeforeEach
  void deploy(Vertx vertx) throws Exception {
    this.vertx = vertx;
    sidecar = new FakeStateSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    client = WebClient.create(vertx);
    port = replica("replica-a", FakeStateSidecar.STORE, false);
  }

  /** Deploys a replica that keeps its delivery record through the fake sidecar in {@code store}; answers its port. */
  private int replica(String name, String store, boolean faultInjection) throws Exception {
    return replica(name, store, faultInjection, 50).actualPort();
  }

  private NotificationVerticle replica(String name, String store, boolean faultInjection, long recordLingerMs)
    throws Exception {
    NotificationConfig config = new NotificationConfig(0, name, 16_384, 3, faultInjection, dedup(store, recordLingerMs));
    NotificationVerticle verticle = new NotificationVerticle(config);
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    return verticle;
  }

  private NotificationConfig.Dedup dedup(String store, long recordLingerMs) {
    return new NotificationConfig.Dedup(store, "127.0.0.1", sidecar.port(), null, 2_000, 90_000, CLAIM_TIMEOUT_MS, 100,
      recordLingerMs);
  }

  /** The answer a replica recorded for {@code notificationId}, once it is recorded (in the background). */
  private JsonObject recorded(String notificationId) throws Exception {
    return sidecar.saved("delivery-" + notificationId).await(10, TimeUnit.SECONDS);
  }

  private HttpRequest<Buffer> request(HttpMethod method, String path) {
    return request(port, method, path);
  }

  private HttpRequest<Buffer> request(int replicaPort, HttpMethod method, String path) {
    return client.request(method, replicaPort, "127.0.0.1", path);
  }

  private HttpResponse<Buffer> notifyAt(int replicaPort, JsonObject body) throws Exception {
    return request(replicaPort, HttpMethod.POST, "/notify").sendJsonObject(body).await(10, TimeUnit.SECONDS);
  }

  private HttpResponse<Buffer> notify(String contentType, String body) throws Exception {
    HttpRequest<Buffer> request = request(HttpMethod.POST, "/notify");
    if (contentType != null) {
      request.putHeader("Content-Type", contentType);
    }
    return (body == null ? request.send() : request.sendBuffer(Buffer.buffer(body))).await(10, TimeUnit.SECONDS);
  }

  private JsonObject deliveries(String query) throws Exception {
    return deliveriesAt(port, query);
  }

  private JsonObject deliveriesAt(int replicaPort, String query) throws Exception {
    return request(replicaPort, HttpMethod.GET, "/notifications" + query).send().await(10, TimeUnit.SECONDS)
      .bodyAsJsonObject();
  }

  private static JsonObject notification(String id) {
    return new JsonObject().put("message", "Todo created: Buy groceries").put("task_id", "t-1")
      .put("notification_id", id);
  }

  @Test
  void aNotificationWithAnIdIsClaimedFirstWriteThenDeliveredThenItsAnswerRecorded() throws Exception {
    HttpResponse<Buffer> response = notifyAt(port, notification("t-1:created"));

    assertEquals(200, response.statusCode(), response.bodyAsString());
    JsonObject answer = response.bodyAsJsonObject();
    assertEquals("delivered", answer.getString("status"));
    assertEquals("t-1:created", answer.getString("notification_id"));
    assertEquals("replica-a", answer.getString("replica"));
    assertNotNull(answer.getString("delivered_at"));
    assertEquals(answer, recorded("t-1:created"), "the record is the answer");
    List<JsonObject> saves = sidecar.saves();
    assertEquals(2, saves.size(), "the claim, then the answer");
    assertEquals("claim-t-1:created", saves.get(0).getString("key"));
    assertEquals(new JsonObject().put("concurrency", "first-write"), saves.get(0).getJsonObject("options"));
    assertEquals("replica-a", saves.get(0).getJsonObject("value").getString("replica"));
    assertEquals("delivery-t-1:created", saves.get(1).getString("key"));
    saves.forEach(save -> assertEquals("90000", save.getJsonObject("metadata").getString("ttlInSeconds")));
    assertEquals(1, deliveries("?notification_id=t-1:created").getJsonArray("recent").size());
  }

  @Test
  void withAnAppApiTokenOnlyTheSidecarIsServedAndHealthStaysOpen() throws Exception {
    NotificationConfig config = new NotificationConfig(0, "replica-t", 16_384, 3, false,
      new NotificationConfig.Dedup(FakeStateSidecar.STORE, "127.0.0.1", sidecar.port(), "to-the-sidecar", 2_000,
        90_000, CLAIM_TIMEOUT_MS, 100, 0), "from-the-sidecar");
    NotificationVerticle verticle = new NotificationVerticle(config);
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    int tokenPort = verticle.actualPort();

    for (String token : new String[] {null, "wrong", "from-the-sidecar-and-more"}) {
      HttpRequest<Buffer> notify = request(tokenPort, HttpMethod.POST, "/notify");
      HttpRequest<Buffer> list = request(tokenPort, HttpMethod.GET, "/notifications");
      if (token != null) {
        notify.putHeader("dapr-api-token", token);
        list.putHeader("dapr-api-token", token);
      }
      for (HttpResponse<Buffer> refused : List.of(notify.sendJsonObject(notification("t-9:created"))
        .await(10, TimeUnit.SECONDS), list.send().await(10, TimeUnit.SECONDS))) {
        assertEquals(401, refused.statusCode(), refused.bodyAsString());
        assertEquals("UNAUTHORIZED", refused.bodyAsJsonObject().getString("error"));
      }
    }
    assertEquals(0, sidecar.saves().size(), "a refused call claims nothing");
    for (String health : List.of("/health", "/health/live", "/health/ready")) {
      assertEquals(200, request(tokenPort, HttpMethod.GET, health).send().await(10, TimeUnit.SECONDS).statusCode(),
        health + " is probed by Dapr without the token");
    }

    HttpResponse<Buffer> fromSidecar = request(tokenPort, HttpMethod.POST, "/notify")
      .putHeader("dapr-api-token", "from-the-sidecar").sendJsonObject(notification("t-9:created"))
      .await(10, TimeUnit.SECONDS);
    assertEquals(200, fromSidecar.statusCode(), fromSidecar.bodyAsString());
    assertEquals("delivered", fromSidecar.bodyAsJsonObject().getString("status"));
    JsonObject delivered = request(tokenPort, HttpMethod.GET, "/notifications?notification_id=t-9:created")
      .putHeader("dapr-api-token", "from-the-sidecar").send().await(10, TimeUnit.SECONDS).bodyAsJsonObject();
    assertEquals(1, delivered.getJsonArray("recent").size(), "delivered once, by the sidecar's call");
    assertEquals(List.of("to-the-sidecar"), sidecar.apiTokens(), "the replica sends DAPR_API_TOKEN to its sidecar");
  }

  @Test
  void anAnswerWhoseRecordFailsIsRecordedOnceTheSidecarIsBackAndARepeatIsNotDeliveredAgain() throws Exception {
    // The record must land within the claim timeout once the sidecar is back; 30 s is far more than the test needs.
    NotificationVerticle verticle = new NotificationVerticle(new NotificationConfig(0, "replica-r", 16_384, 3, false,
      new NotificationConfig.Dedup(FakeStateSidecar.STORE, "127.0.0.1", sidecar.port(), null, 2_000, 90_000, 30_000,
        100, 50)));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    int replica = verticle.actualPort();
    sidecar.transactionsDown = true;
    HttpResponse<Buffer> first = notifyAt(replica, notification("t-7:created"));
    assertEquals(200, first.statusCode(), first.bodyAsString());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (sidecar.calls("POST transaction") < 3) {
      assertTrue(System.nanoTime() < deadline, "not tried again: " + sidecar.calls("POST transaction"));
      vertx.timer(20).await(10, TimeUnit.SECONDS);
    }
    assertEquals(409, notifyAt(replica, notification("t-7:created")).statusCode(), "claimed, not recorded yet");

    sidecar.transactionsDown = false;
    assertEquals(first.bodyAsJsonObject(), recorded("t-7:created"), "recorded once the sidecar answers again");
    HttpResponse<Buffer> repeat = notifyAt(replica, notification("t-7:created"));
    assertEquals(first.bodyAsJsonObject().copy().put("duplicate", true), repeat.bodyAsJsonObject());
    assertEquals(1, deliveriesAt(replica, "?notification_id=t-7:created").getJsonArray("recent").size(),
      "delivered once");
  }

  @Test
  void aFreshClaimWithoutAnAnswerIsInProgressAndIsNotDelivered() throws Exception {
    sidecar.put("claim-t-5:created", new JsonObject().put("replica", "replica-x")
      .put("claimed_at", System.currentTimeMillis()));

    HttpResponse<Buffer> response = notifyAt(port, notification("t-5:created"));

    assertEquals(409, response.statusCode(), response.bodyAsString());
    assertEquals("NOTIFICATION_IN_PROGRESS", response.bodyAsJsonObject().getString("error"));
    assertEquals("1", response.getHeader("Retry-After"));
    assertEquals(0L, deliveries("").getLong("delivered"));
  }

  @Test
  void aClaimAbandonedPastClaimTimeoutMsIsTakenOverAndDelivered() throws Exception {
    // What a replica that died after claiming, or whose store applied the claim and then failed, leaves behind.
    sidecar.put("claim-t-6:created", new JsonObject().put("replica", "replica-x")
      .put("claimed_at", System.currentTimeMillis() - CLAIM_TIMEOUT_MS - 1));

    HttpResponse<Buffer> response = notifyAt(port, notification("t-6:created"));

    assertEquals(200, response.statusCode(), response.bodyAsString());
    assertEquals("replica-a", response.bodyAsJsonObject().getString("replica"));
    assertEquals("replica-a", sidecar.value("claim-t-6:created").getString("replica"), "taken over");
    assertEquals(1L, deliveries("").getLong("delivered"));
  }

  @Test
  void aRepeatOnAnyReplicaIsAnsweredFromTheFirstDeliveryAndNotDeliveredAgain() throws Exception {
    int other = replica("replica-b", FakeStateSidecar.STORE, false);
    JsonObject first = notifyAt(port, notification("t-1:created")).bodyAsJsonObject();
    recorded("t-1:created");

    HttpResponse<Buffer> again = notifyAt(other, notification("t-1:created"));
    HttpResponse<Buffer> thrice = notifyAt(port, notification("t-1:created"));

    assertEquals(200, again.statusCode());
    assertEquals(first.copy().put("duplicate", true), again.bodyAsJsonObject());
    assertEquals("replica-a", again.getHeader("X-Replica"), "the replica that delivered it");
    assertEquals(first.copy().put("duplicate", true), thrice.bodyAsJsonObject());
    assertEquals(1L, deliveries("").getLong("delivered"));
    assertEquals(0L, deliveriesAt(other, "").getLong("delivered"));
  }

  @Test
  void concurrentAttemptsOnTwoReplicasDeliverOnce() throws Exception {
    int other = replica("replica-b", FakeStateSidecar.STORE, false);
    List<Future<HttpResponse<Buffer>>> attempts = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      attempts.add(request(i % 2 == 0 ? port : other, HttpMethod.POST, "/notify")
        .sendJsonObject(notification("t-9:created")));
    }
    Future.all(attempts).await(20, TimeUnit.SECONDS);

    // The one that claimed it delivers; the others hear it is in progress (409) or, once answered, get its answer.
    attempts.forEach(a -> assertTrue(a.result().statusCode() == 200 || a.result().statusCode() == 409,
      a.result().bodyAsString()));
    assertEquals(1L, deliveries("").getLong("delivered") + deliveriesAt(other, "").getLong("delivered"));
    assertEquals(1, attempts.stream().filter(a -> a.result().statusCode() == 200
      && !a.result().bodyAsJsonObject().getBoolean("duplicate", false)).count());
  }

  @Test
  void claimsAndAnswersMadeWhileOneCallIsUnderWayGoInOneCallAndARefusedClaimDoesNotSinkTheOthers() throws Exception {
    sidecar.put("claim-t-2:created", new JsonObject().put("replica", "replica-x")
      .put("claimed_at", System.currentTimeMillis()));
    DeliveryRecords records = new DeliveryRecords(vertx, dedup(FakeStateSidecar.STORE, 50), "replica-a");
    int savesBefore = sidecar.calls("POST save");
    io.vertx.core.Context context = vertx.getOrCreateContext();
    io.vertx.core.Promise<List<DeliveryRecords.Claim>> claimed = io.vertx.core.Promise.promise();
    // All three in one turn of the event loop: the first goes alone, the other two wait for it and go together.
    context.runOnContext(v -> {
      List<Future<DeliveryRecords.Claim>> claims = List.of(records.claim("t-1:created"), records.claim("t-2:created"),
        records.claim("t-3:created"));
      Future.all(claims).onComplete(done -> claimed.complete(claims.stream().map(Future::result).toList()));
    });
    List<DeliveryRecords.Claim> claims = claimed.future().await(10, TimeUnit.SECONDS);

    assertTrue(claims.get(0) instanceof DeliveryRecords.Claimed, String.valueOf(claims));
    assertEquals(new DeliveryRecords.InProgress("replica-x"), claims.get(1), "refused: another replica has it");
    assertTrue(claims.get(2) instanceof DeliveryRecords.Claimed, "saved in the same bulk as the refused one");
    assertEquals("replica-a", sidecar.value("claim-t-3:created").getString("replica"));
    assertEquals(2, sidecar.calls("POST save") - savesBefore, "one bulk save for the claims made meanwhile");

    io.vertx.core.Promise<Void> recorded = io.vertx.core.Promise.promise();
    context.runOnContext(v -> Future.all(records.delivered("t-1:created", new JsonObject().put("n", 1)),
        records.delivered("t-3:created", new JsonObject().put("n", 3)),
        records.delivered("t-4:created", new JsonObject().put("n", 4)))
      .<Void>mapEmpty().onComplete(recorded));
    recorded.future().await(10, TimeUnit.SECONDS);
    assertEquals(1, sidecar.calls("POST transaction"), "the three answers, lingering, in one transaction");
    assertEquals(new JsonObject().put("n", 4), sidecar.value("delivery-t-4:created"));
    assertEquals(new JsonObject().put("n", 3), sidecar.value("delivery-t-3:created"));
    records.close();
  }

  @Test
  void theAnswerDoesNotWaitForTheRecordAndAGracefulStopRecordsEveryAnswerStillWaiting() throws Exception {
    NotificationVerticle lingering = replica("replica-l", FakeStateSidecar.STORE, false, 600_000);

    HttpResponse<Buffer> response = notifyAt(lingering.actualPort(), notification("t-7:created"));
    assertEquals(200, response.statusCode(), response.bodyAsString());
    assertNotNull(sidecar.value("claim-t-7:created"), "claimed before it was delivered");
    assertEquals(null, sidecar.value("delivery-t-7:created"), "answered before its record was written");

    vertx.undeploy(lingering.deploymentID()).await(10, TimeUnit.SECONDS);
    assertEquals(response.bodyAsJsonObject(), sidecar.value("delivery-t-7:created"), "recorded on the way out");
  }

  @Test
  void withTheRecordUnreachableNothingIsDeliveredAndTheSenderIsToldToRetry() throws Exception {
    sidecar.down = true;

    HttpResponse<Buffer> response = notifyAt(port, notification("t-2:created"));

    assertEquals(503, response.statusCode());
    assertEquals("DEDUP_STORE_UNAVAILABLE", response.bodyAsJsonObject().getString("error"));
    assertEquals("1", response.getHeader("Retry-After"));
    assertEquals(0L, deliveries("").getLong("delivered"));

    sidecar.down = false;
    assertEquals(200, notifyAt(port, notification("t-2:created")).statusCode());
    assertEquals(1L, deliveries("").getLong("delivered"));
  }

  @Test
  void withoutANotificationIdOrWithDeduplicationOffEveryCallIsDelivered() throws Exception {
    int noDedup = replica("replica-c", "none", false);
    for (int i = 0; i < 2; i++) {
      assertEquals(200, notifyAt(port, new JsonObject().put("message", "seed style")).statusCode());
      assertEquals(200, notifyAt(noDedup, notification("t-3:created")).statusCode());
    }
    assertEquals(2L, deliveries("").getLong("delivered"));
    assertEquals(2L, deliveriesAt(noDedup, "").getLong("delivered"));
    assertEquals(List.of(), sidecar.saves(), "no record asked for");
  }

  @Test
  void withFaultInjectionPutFaultsDelaysEveryNotify() throws Exception {
    int slow = replica("replica-f", FakeStateSidecar.STORE, true);
    HttpResponse<Buffer> set = request(slow, HttpMethod.PUT, "/faults").sendJsonObject(new JsonObject()
      .put("delay_ms", 400)).await(10, TimeUnit.SECONDS);
    assertEquals(200, set.statusCode(), set.bodyAsString());

    long start = System.nanoTime();
    assertEquals(200, notifyAt(slow, notification("t-4:created")).statusCode());
    assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) >= 400);

    assertEquals(400, request(slow, HttpMethod.PUT, "/faults").sendJsonObject(new JsonObject().put("delay_ms", -1))
      .await(10, TimeUnit.SECONDS).statusCode());
    assertEquals(404, request(HttpMethod.PUT, "/faults").sendJsonObject(new JsonObject().put("delay_ms", 1))
      .await(10, TimeUnit.SECONDS).statusCode(), "off unless FAULT_INJECTION=true");
  }

  @Test
  void notifyAnswersDeliveredByThisReplicaAndRecordsIt() throws Exception {
    HttpResponse<Buffer> response = notify(JSON, "{\"message\":\"Todo created: Buy groceries\",\"task_id\":\"t-1\"}");

    assertEquals(200, response.statusCode());
    assertEquals(new JsonObject().put("status", "delivered").put("message", "Todo created: Buy groceries")
      .put("task_id", "t-1").put("replica", "replica-a"), response.bodyAsJsonObject());
    assertEquals("replica-a", response.getHeader("X-Replica"));

    JsonObject seen = deliveries("?task_id=t-1");
    assertEquals(1L, seen.getLong("delivered"));
    assertEquals("Todo created: Buy groceries", seen.getJsonArray("recent").getJsonObject(0).getString("message"));
    assertNotNull(seen.getJsonArray("recent").getJsonObject(0).getString("received_at"));
  }

  @Test
  void taskIdIsOptionalAsInTheSeed() throws Exception {
    HttpResponse<Buffer> response = notify("application/json; charset=utf-8", "{\"message\":\"Task completed\"}");

    assertEquals(200, response.statusCode());
    assertEquals(null, response.bodyAsJsonObject().getValue("task_id"));
    assertEquals(200, notify(JSON, "{\"message\":\"m\",\"task_id\":null,\"extra\":1}").statusCode());
  }

  @Test
  void theDeliveryLogKeepsOnlyTheMostRecent() throws Exception {
    for (int i = 1; i <= 5; i++) {
      assertEquals(200, notify(JSON, "{\"message\":\"m" + i + "\"}").statusCode());
    }
    JsonObject seen = deliveries("");
    assertEquals(5L, seen.getLong("delivered"));
    assertEquals(3, seen.getJsonArray("recent").size());
    assertEquals("m5", seen.getJsonArray("recent").getJsonObject(2).getString("message"));
    assertEquals(0, deliveries("?task_id=none").getJsonArray("recent").size());
  }

  static Stream<Arguments> malformed() {
    return Stream.of(
      Arguments.of("no content type", null, "{\"message\":\"m\"}", 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("text/plain", "text/plain", "{\"message\":\"m\"}", 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("empty body", JSON, "", 400, "EMPTY_BODY"),
      Arguments.of("not JSON", JSON, "hello", 400, "MALFORMED_JSON"),
      Arguments.of("truncated JSON", JSON, "{\"message\":", 400, "MALFORMED_JSON"),
      Arguments.of("array", JSON, "[]", 400, "NOT_AN_OBJECT"),
      Arguments.of("string", JSON, "\"m\"", 400, "NOT_AN_OBJECT"),
      Arguments.of("no message", JSON, "{\"task_id\":\"t\"}", 400, "MISSING_FIELD"),
      Arguments.of("null message", JSON, "{\"message\":null}", 400, "MISSING_FIELD"),
      Arguments.of("numeric message", JSON, "{\"message\":7}", 400, "INVALID_FIELD"),
      Arguments.of("object message", JSON, "{\"message\":{}}", 400, "INVALID_FIELD"),
      Arguments.of("empty message", JSON, "{\"message\":\"\"}", 400, "INVALID_FIELD"),
      Arguments.of("blank message", JSON, "{\"message\":\"   \"}", 400, "INVALID_FIELD"),
      Arguments.of("message too long", JSON, new JsonObject().put("message", "x".repeat(2_001)).encode(), 400,
        "INVALID_FIELD"),
      Arguments.of("numeric task_id", JSON, "{\"message\":\"m\",\"task_id\":5}", 400, "INVALID_FIELD"),
      Arguments.of("duplicate message", JSON, "{\"message\":\"a\",\"message\":\"b\"}", 400, "DUPLICATE_FIELD"),
      Arguments.of("NUL in message", JSON, "{\"message\":\"a\\u0000\"}", 400, "INVALID_FIELD"),
      Arguments.of("C1 control in message", JSON, "{\"message\":\"a\\u009bb\"}", 400, "INVALID_FIELD"),
      Arguments.of("bidi override in message", JSON, "{\"message\":\"\\u202egnp.exe\"}", 400, "INVALID_FIELD"),
      Arguments.of("bidi isolate in message", JSON, "{\"message\":\"a\\u2066b\"}", 400, "INVALID_FIELD"),
      Arguments.of("body over the limit", JSON, new JsonObject().put("message", "x".repeat(17_000)).encode(), 413,
        "PAYLOAD_TOO_LARGE"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void malformedNotificationsAre4xxJsonAndNotRecorded(String name, String contentType, String body, int status,
                                                      String error) throws Exception {
    HttpResponse<Buffer> response = notify(contentType, body);

    assertEquals(status, response.statusCode(), response.bodyAsString());
    assertTrue(response.getHeader("Content-Type").startsWith(JSON));
    assertEquals(error, response.bodyAsJsonObject().getString("error"));
    assertNotNull(response.bodyAsJsonObject().getString("message"));
    assertEquals(0L, deliveries("").getLong("delivered"));
  }

  @Test
  void healthRoutesAnswer(VertxTestContext test) {
    Checkpoint answered = test.checkpoint(3);
    request(HttpMethod.GET, "/health").send().onComplete(test.succeeding(response -> test.verify(() -> {
      assertEquals(new JsonObject().put("status", "healthy").put("replica", "replica-a"), response.bodyAsJsonObject());
      answered.flag();
    })));
    for (String path : new String[] {"/health/live", "/health/ready"}) {
      request(HttpMethod.GET, path).send().onComplete(test.succeeding(response -> test.verify(() -> {
        assertEquals(200, response.statusCode(), path);
        assertEquals("UP", response.bodyAsJsonObject().getString("status"), path);
        answered.flag();
      })));
    }
  }

  @Test
  void unknownRoutesAreJson404() throws Exception {
    HttpResponse<Buffer> response = request(HttpMethod.GET, "/nope").send().await(10, TimeUnit.SECONDS);
    assertEquals(404, response.statusCode());
    assertEquals("NOT_FOUND", response.bodyAsJsonObject().getString("error"));
  }
}
