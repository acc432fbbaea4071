package com.example.dapr.todo;

import com.example.dapr.http.Env;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * todo-api against {@link FakeSidecar}, a real HTTP server standing in for daprd. Every test deploys the verticle on a
 * random port; waits are bounded (a hung call fails the test by its timeout, never by sleeping).
 */
@ExtendWith(VertxExtension.class)
class TodoVerticleTest {

  private static final String JSON = "application/json";

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

  /** Deploys todo-api with the test defaults (fast retries, a quick stop) and {@code overrides}. */
  private void deploy(String... overrides) throws Exception {
    deployReturningId(overrides);
  }

  private String deployReturningId(String... overrides) throws Exception {
    TodoVerticle verticle = new TodoVerticle(sidecar.todoApiConfig(overrides));
    String id = vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
    sidecar.awaitOutboxCheck(vertx);
    return id;
  }

  private HttpRequest<Buffer> request(HttpMethod method, String path) {
    return client.request(method, port, "127.0.0.1", path);
  }

  private HttpResponse<Buffer> send(HttpRequest<Buffer> request, String contentType, String body) throws Exception {
    if (contentType != null) {
      request.putHeader("Content-Type", contentType);
    }
    Future<HttpResponse<Buffer>> response = body == null ? request.send() : request.sendBuffer(Buffer.buffer(body));
    return response.await(15, TimeUnit.SECONDS);
  }

  private HttpResponse<Buffer> post(String body) throws Exception {
    return send(request(HttpMethod.POST, "/tasks"), JSON, body);
  }

  private HttpResponse<Buffer> create(String title) throws Exception {
    return post(new JsonObject().put("title", title).encode());
  }

  private HttpResponse<Buffer> get(String id) throws Exception {
    return send(request(HttpMethod.GET, "/tasks/" + id), null, null);
  }

  private HttpResponse<Buffer> patch(String id, String ifMatch, String body) throws Exception {
    HttpRequest<Buffer> request = request(HttpMethod.PATCH, "/tasks/" + id);
    if (ifMatch != null) {
      request.putHeader("If-Match", ifMatch);
    }
    return send(request, JSON, body);
  }

  private static void assertJsonError(HttpResponse<Buffer> response, int status, String error) {
    assertEquals(status, response.statusCode(), () -> response.bodyAsString());
    assertTrue(response.getHeader("Content-Type").startsWith(JSON), response.getHeader("Content-Type"));
    JsonObject body = response.bodyAsJsonObject();
    assertEquals(error, body.getString("error"), body::encode);
    assertNotNull(body.getString("message"), body::encode);
  }

  /** Polls {@code condition} every 20 ms for at most 10 s; the timer runs on Vert.x, the test thread waits on it. */
  private void eventually(String what, Check condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.holds()) {
      if (System.nanoTime() > deadline) {
        fail("not within 10 s: " + what);
      }
      vertx.timer(20).await(30, TimeUnit.SECONDS);
    }
  }

  @FunctionalInterface
  private interface Check {
    boolean holds() throws Exception;
  }

  @Test
  void createSavesTheTaskAndItsNotificationInOneOutboxTransactionThenSendsIt() throws Exception {
    deploy();
    HttpResponse<Buffer> response = create("Buy groceries");

    assertEquals(201, response.statusCode(), response.bodyAsString());
    JsonObject task = response.bodyAsJsonObject();
    String id = task.getString("id");
    assertEquals(id, java.util.UUID.fromString(id).toString());
    assertEquals("Buy groceries", task.getString("title"));
    assertEquals("pending", task.getString("status"));
    assertEquals(1, task.getInteger("version"));
    assertEquals("/tasks/" + id, response.getHeader("Location"));
    String notificationId = id + ":created";
    assertEquals(new JsonObject().put("status", "delivered").put("notification_id", notificationId)
      .put("replica", "fake-1"), task.getJsonObject("notification"));

    List<FakeSidecar.Received> writes = sidecar.stateSaves();
    assertEquals(1, writes.size(), "one write: the transaction");
    assertEquals("/v1.0/state/statestore/transaction", writes.get(0).path());
    JsonArray operations = writes.get(0).json().getJsonArray("operations");
    assertEquals(2, operations.size());
    JsonObject save = operations.getJsonObject(0);
    assertEquals("upsert", save.getString("operation"));
    assertEquals("task-" + id, save.getJsonObject("request").getString("key"));
    assertEquals(new JsonObject().put("id", id).put("title", "Buy groceries").put("status", "pending")
      .put("created_at", task.getString("created_at")).put("version", 1), save.getJsonObject("request").getJsonObject("value"));
    assertFalse(save.getJsonObject("request").containsKey("etag"), "a new task is saved unconditionally");
    JsonObject projection = operations.getJsonObject(1).getJsonObject("request");
    assertEquals("upsert", operations.getJsonObject(1).getString("operation"));
    assertEquals("task-" + id, projection.getString("key"), "Dapr pairs a projection with the upsert of its key");
    assertEquals(new JsonObject().put("outbox.projection", "true").put("contentType", "application/json"),
      projection.getJsonObject("metadata"));
    assertEquals(new JsonObject().put("message", "Todo created: Buy groceries").put("task_id", id)
      .put("notification_id", notificationId).put("event", "created").put("requested_at", task.getString("created_at"))
      .put("version", 1), projection.getJsonObject("value"));
    assertEquals(save.getJsonObject("request").getJsonObject("value"), sidecar.value("task-" + id));
    assertEquals(1, sidecar.published().size(), "the outbox publishes the notification");

    List<FakeSidecar.Received> invocations = sidecar.invocations();
    assertEquals(1, invocations.size());
    FakeSidecar.Received notify = invocations.get(0);
    assertEquals("POST", notify.method());
    assertEquals("/v1.0/invoke/notification-service/method/notify", notify.path());
    assertEquals(JSON, notify.headers().get("Content-Type"));
    assertEquals(new JsonObject().put("message", "Todo created: Buy groceries").put("task_id", id)
      .put("notification_id", notificationId), notify.json());
    assertNull(notify.headers().get("dapr-api-token"), "no token configured, none sent");
    assertEquals(1, sidecar.deliveries(notificationId));
  }

  @Test
  void getAnswersTheStoredTaskWithTheStoresEtag() throws Exception {
    deploy();
    String id = create("Read a book").bodyAsJsonObject().getString("id");

    HttpResponse<Buffer> response = get(id);

    assertEquals(200, response.statusCode());
    assertEquals("\"" + sidecar.etag("task-" + id) + "\"", response.getHeader("ETag"));
    assertEquals(sidecar.value("task-" + id), response.bodyAsJsonObject());
    assertEquals("/v1.0/state/statestore/task-" + id, sidecar.received().get(sidecar.received().size() - 1).path());
  }

  @Test
  void getOfAMissingOrMalformedIdIsAJson404() throws Exception {
    deploy();
    assertJsonError(get("7c0d3f5e-3b2a-4a8e-9d6b-0a1b2c3d4e5f"), 404, "TASK_NOT_FOUND");
    assertJsonError(get("not-a-uuid"), 404, "TASK_NOT_FOUND");
    assertJsonError(get("..%2F..%2Fsecret"), 404, "TASK_NOT_FOUND");
    assertEquals(1, sidecar.dataCalls().size(), "only the well-formed id reaches the state store");
  }

  @Test
  void completingWithTheCurrentEtagSavesConditionallyAndSendsTodoCompleted() throws Exception {
    deploy();
    String id = create("Water plants").bodyAsJsonObject().getString("id");
    String etag = get(id).getHeader("ETag");

    HttpResponse<Buffer> response = patch(id, etag, "{\"status\":\"completed\"}");

    assertEquals(200, response.statusCode(), response.bodyAsString());
    JsonObject task = response.bodyAsJsonObject();
    assertEquals("completed", task.getString("status"));
    assertNotNull(task.getString("completed_at"));
    assertEquals("delivered", task.getJsonObject("notification").getString("status"));
    assertEquals("\"" + sidecar.etag("task-" + id) + "\"", response.getHeader("ETag"));
    assertEquals("completed", sidecar.value("task-" + id).getString("status"));

    assertEquals(2, task.getInteger("version"));
    JsonArray operations = sidecar.stateSaves().get(1).json().getJsonArray("operations");
    JsonObject save = operations.getJsonObject(0).getJsonObject("request");
    assertEquals(etag.replace("\"", ""), save.getString("etag"));
    assertEquals("first-write", save.getJsonObject("options").getString("concurrency"));
    String notificationId = id + ":completed:" + task.getString("completed_at");
    assertEquals(notificationId, operations.getJsonObject(1).getJsonObject("request").getJsonObject("value")
      .getString("notification_id"), "the completion is saved with its notification, in the outbox");

    List<FakeSidecar.Received> invocations = sidecar.invocations();
    assertEquals(2, invocations.size());
    assertEquals(new JsonObject().put("message", "Todo completed: Water plants").put("task_id", id)
      .put("notification_id", notificationId), invocations.get(1).json());

    // Completing it again changes nothing: no save, no second notification.
    HttpResponse<Buffer> again = send(request(HttpMethod.PUT, "/tasks/" + id), JSON,
      "{\"status\":\"completed\"}");
    assertEquals(200, again.statusCode());
    assertEquals(2, sidecar.stateSaves().size());
    assertEquals(2, sidecar.invocations().size());
  }

  @Test
  void aStaleEtagIsAnswered412AndChangesNothing() throws Exception {
    deploy();
    String id = create("Pay rent").bodyAsJsonObject().getString("id");
    String stale = get(id).getHeader("ETag");
    assertEquals(200, patch(id, null, "{\"title\":\"Pay the rent\"}").statusCode());
    JsonObject before = sidecar.value("task-" + id);

    assertJsonError(patch(id, stale, "{\"status\":\"completed\"}"), 412, "ETAG_MISMATCH");

    assertEquals(before, sidecar.value("task-" + id));
    assertEquals(2, sidecar.stateSaves().size());
    assertEquals(1, sidecar.invocations().size(), "no 'Todo completed' for a refused change");
  }

  @Test
  void aConflictReportedByTheStoreIs412WithIfMatchAnd409Without() throws Exception {
    deploy();
    String id = create("Call mom").bodyAsJsonObject().getString("id");
    String etag = get(id).getHeader("ETag");

    // Another writer changes the task between todo-api's read and its transaction (daprd answers 500).
    sidecar.conflictOnNextSave = true;
    assertJsonError(patch(id, etag, "{\"status\":\"completed\"}"), 412, "ETAG_MISMATCH");
    sidecar.conflictOnNextSave = true;
    assertJsonError(patch(id, null, "{\"status\":\"completed\"}"), 409, "CONCURRENT_UPDATE");
    // The same for a change without a notification, a plain conditional save (daprd answers 409).
    sidecar.conflictOnNextSave = true;
    assertJsonError(patch(id, null, "{\"title\":\"Call mum\"}"), 409, "CONCURRENT_UPDATE");

    assertEquals("pending", sidecar.value("task-" + id).getString("status"));
    assertEquals("Call mom", sidecar.value("task-" + id).getString("title"));
    assertEquals(1, sidecar.invocations().size());
    assertEquals(1, sidecar.published().size(), "a refused transaction publishes nothing");
  }

  @Test
  void aFailingStoreOnAConditionalWriteIsA502NotAConflict() throws Exception {
    deploy();
    String id = create("Renew passport").bodyAsJsonObject().getString("id");
    sidecar.writesFail = true;

    HttpResponse<Buffer> response = patch(id, null, "{\"status\":\"completed\"}");

    // daprd's 500 ERR_STATE_TRANSACTION is read back: the ETag did not change, so it was the store, not a writer.
    assertJsonError(response, 502, "SIDECAR_ERROR");
    assertEquals("ERR_STATE_TRANSACTION", response.bodyAsJsonObject().getString("dapr_error_code"));
    assertEquals(1, sidecar.invocations().size());
  }

  @Test
  void updatingAMissingTaskIs404() throws Exception {
    deploy();
    assertJsonError(patch("7c0d3f5e-3b2a-4a8e-9d6b-0a1b2c3d4e5f", null, "{\"status\":\"completed\"}"), 404,
      "TASK_NOT_FOUND");
    assertEquals(0, sidecar.stateSaves().size());
  }

  static Stream<Arguments> malformedCreates() {
    return Stream.of(
      Arguments.of("no content type", null, "{\"title\":\"a\"}", 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("text/plain", "text/plain", "{\"title\":\"a\"}", 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("form encoded", "application/x-www-form-urlencoded", "title=a", 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("empty body", JSON, "", 400, "EMPTY_BODY"),
      Arguments.of("truncated JSON", JSON, "{\"title\":", 400, "MALFORMED_JSON"),
      Arguments.of("not JSON", JSON, "Buy groceries", 400, "MALFORMED_JSON"),
      Arguments.of("trailing garbage", JSON, "{\"title\":\"a\"} x", 400, "MALFORMED_JSON"),
      Arguments.of("array", JSON, "[{\"title\":\"a\"}]", 400, "NOT_AN_OBJECT"),
      Arguments.of("string", JSON, "\"a\"", 400, "NOT_AN_OBJECT"),
      Arguments.of("number", JSON, "42", 400, "NOT_AN_OBJECT"),
      Arguments.of("null", JSON, "null", 400, "NOT_AN_OBJECT"),
      Arguments.of("no title", JSON, "{}", 400, "MISSING_FIELD"),
      Arguments.of("null title", JSON, "{\"title\":null}", 400, "MISSING_FIELD"),
      Arguments.of("numeric title", JSON, "{\"title\":42}", 400, "INVALID_FIELD"),
      Arguments.of("boolean title", JSON, "{\"title\":true}", 400, "INVALID_FIELD"),
      Arguments.of("array title", JSON, "{\"title\":[\"a\"]}", 400, "INVALID_FIELD"),
      Arguments.of("object title", JSON, "{\"title\":{\"text\":\"a\"}}", 400, "INVALID_FIELD"),
      Arguments.of("empty title", JSON, "{\"title\":\"\"}", 400, "INVALID_FIELD"),
      Arguments.of("blank title", JSON, "{\"title\":\"  \\t \"}", 400, "INVALID_FIELD"),
      Arguments.of("title too long", JSON, new JsonObject().put("title", "x".repeat(201)).encode(), 400, "INVALID_FIELD"),
      Arguments.of("client-chosen id", JSON, "{\"title\":\"a\",\"id\":\"1\"}", 400, "INVALID_FIELD"),
      Arguments.of("completed on create", JSON, "{\"title\":\"a\",\"status\":\"completed\"}", 400, "INVALID_FIELD"),
      Arguments.of("misspelt field", JSON, "{\"titel\":\"a\"}", 400, "UNKNOWN_FIELD"),
      Arguments.of("unknown field", JSON, "{\"title\":\"a\",\"priority\":1}", 400, "UNKNOWN_FIELD"),
      Arguments.of("body over the limit", JSON, new JsonObject().put("title", "x".repeat(20_000)).encode(), 413,
        "PAYLOAD_TOO_LARGE"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedCreates")
  void malformedCreateIs4xxJsonWithNothingStoredAndNothingSent(String name, String contentType, String body,
                                                               int status, String error) throws Exception {
    deploy();
    assertJsonError(send(request(HttpMethod.POST, "/tasks"), contentType, body), status, error);
    assertEquals(List.of(), sidecar.dataCalls());
    assertEquals(0, sidecar.storedCount());
  }

  static Stream<Arguments> malformedUpdates() {
    return Stream.of(
      Arguments.of("empty object", "{}", "MISSING_FIELD"),
      Arguments.of("unknown status", "{\"status\":\"done\"}", "INVALID_FIELD"),
      Arguments.of("numeric status", "{\"status\":1}", "INVALID_FIELD"),
      Arguments.of("unknown field", "{\"status\":\"completed\",\"owner\":\"me\"}", "UNKNOWN_FIELD"),
      Arguments.of("not an object", "[\"completed\"]", "NOT_AN_OBJECT"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedUpdates")
  void malformedUpdateIs400BeforeTheStoreIsAsked(String name, String body, String error) throws Exception {
    deploy();
    String id = create("Walk the dog").bodyAsJsonObject().getString("id");
    int callsBefore = sidecar.dataCalls().size();

    assertJsonError(patch(id, null, body), 400, error);

    assertEquals(callsBefore, sidecar.dataCalls().size());
  }

  static Stream<Arguments> titlesThatAreRefused() {
    return Stream.of(
      Arguments.of("{\"title\":\"a\",\"title\":\"b\"}", "DUPLICATE_FIELD",
        "'title' is given more than once; send each field once"),
      Arguments.of("{\"title\":\"\\u202e\\u0000evil\"}", "INVALID_FIELD",
        "'title' must not contain control or bidirectional formatting characters: U+202E at index 0"),
      Arguments.of("{\"title\":\"evil\\u0000\"}", "INVALID_FIELD",
        "'title' must not contain control or bidirectional formatting characters: U+0000 at index 4"),
      Arguments.of("{\"title\":\"a\\u0085b\"}", "INVALID_FIELD",
        "'title' must not contain control or bidirectional formatting characters: U+0085 at index 1"),
      Arguments.of("{\"title\":\"a\\u2067b\"}", "INVALID_FIELD",
        "'title' must not contain control or bidirectional formatting characters: U+2067 at index 1"),
      Arguments.of("{\"title\":\"line\\none\"}", "INVALID_FIELD",
        "'title' must not contain control or bidirectional formatting characters: U+000A at index 4"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("titlesThatAreRefused")
  void duplicateKeysAndInvisibleCharactersInACreateAre400WithNothingStored(String body, String error, String message)
    throws Exception {
    deploy();
    HttpResponse<Buffer> response = post(body);
    assertJsonError(response, 400, error);
    assertEquals(message, response.bodyAsJsonObject().getString("message"));
    assertEquals(List.of(), sidecar.dataCalls());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("titlesThatAreRefused")
  void duplicateKeysAndInvisibleCharactersInAnUpdateAre400BeforeTheStoreIsAsked(String body, String error,
                                                                                String message) throws Exception {
    deploy();
    String id = create("Walk the dog").bodyAsJsonObject().getString("id");
    int callsBefore = sidecar.dataCalls().size();
    for (HttpMethod method : new HttpMethod[] {HttpMethod.PATCH, HttpMethod.PUT}) {
      HttpResponse<Buffer> response = send(request(method, "/tasks/" + id), JSON, body);
      assertJsonError(response, 400, error);
      assertEquals(message, response.bodyAsJsonObject().getString("message"));
    }
    assertEquals(callsBefore, sidecar.dataCalls().size());
    assertEquals("Walk the dog", get(id).bodyAsJsonObject().getString("title"));
  }

  @Test
  void aStoredValueThatIsNotATaskIs500NamingTheKeyNeverATask() throws Exception {
    deploy();
    String id = "7c0d3f5e-3b2a-4a8e-9d6b-0a1b2c3d4e5f";
    // What a state store without the outbox settings leaves under task-{id}: the projection written over the task.
    sidecar.put("task-" + id, new JsonObject().put("message", "Todo created: a").put("task_id", id)
      .put("notification_id", id + ":created").put("event", "created").put("requested_at", "2026-01-01T00:00:00Z")
      .put("version", 1));
    String before = sidecar.value("task-" + id).encode();
    int savesBefore = sidecar.stateSaves().size() + sidecar.transactions().size();

    for (HttpResponse<Buffer> response : List.of(get(id), patch(id, null, "{\"status\":\"completed\"}"),
      send(request(HttpMethod.PUT, "/tasks/" + id), JSON, "{\"title\":\"b\"}"))) {
      assertJsonError(response, 500, "STORED_VALUE_NOT_A_TASK");
      String message = response.bodyAsJsonObject().getString("message");
      assertTrue(message.startsWith("the value stored under 'task-" + id + "' is not a task: "), message);
    }
    assertEquals(savesBefore, sidecar.stateSaves().size() + sidecar.transactions().size(), "nothing written over it");
    assertEquals(before, sidecar.value("task-" + id).encode());

    // A task with a field of the wrong type or one missing is not a task either.
    sidecar.put("task-" + id, new JsonObject().put("id", id).put("title", "a").put("status", "pending")
      .put("created_at", "2026-01-01T00:00:00Z").put("version", "1"));
    assertJsonError(get(id), 500, "STORED_VALUE_NOT_A_TASK");
    sidecar.put("task-" + id, new JsonObject().put("id", id).put("status", "pending")
      .put("created_at", "2026-01-01T00:00:00Z").put("version", 1));
    assertJsonError(get(id), 500, "STORED_VALUE_NOT_A_TASK");
  }

  @Test
  void unknownRoutesAndMethodsAreJsonErrors() throws Exception {
    deploy();
    assertJsonError(send(request(HttpMethod.GET, "/nothing-here"), null, null), 404, "NOT_FOUND");
    assertJsonError(send(request(HttpMethod.DELETE, "/tasks"), null, null), 405,
      "METHOD_NOT_ALLOWED");
  }

  @Test
  void aFailingTransactionIsRetriedThen502WithDaprsCodeAndNoNotification() throws Exception {
    deploy("STATE_RETRIES", "2", "BREAKER_MAX_FAILURES", "100");
    sidecar.stateMode = FakeSidecar.Mode.FAIL;

    HttpResponse<Buffer> response = create("Fix the bike");

    assertJsonError(response, 502, "SIDECAR_ERROR");
    assertEquals("ERR_STATE_TRANSACTION", response.bodyAsJsonObject().getString("dapr_error_code"));
    assertEquals(500, response.bodyAsJsonObject().getInteger("dapr_status"));
    assertEquals(3, sidecar.stateSaves().size(), "one call and two retries");
    assertEquals(0, sidecar.invocations().size());
  }

  @Test
  void anUnknownStateStoreCarriesErrStateStoreNotFoundAndIsNotRetried() throws Exception {
    deploy("STATE_STORE_NAME", "no-such-store", "STATE_RETRIES", "2");

    HttpResponse<Buffer> response = create("Anything");

    assertJsonError(response, 502, "SIDECAR_ERROR");
    assertEquals("ERR_STATE_STORE_NOT_FOUND", response.bodyAsJsonObject().getString("dapr_error_code"));
    assertEquals(1, sidecar.stateSaves().size(), "a 4xx will not get better by retrying");
  }

  @Test
  void aHangingStateStoreTimesOutWith504() throws Exception {
    deploy("STATE_TIMEOUT_MS", "300", "STATE_RETRIES", "1");
    sidecar.stateMode = FakeSidecar.Mode.HANG;

    HttpResponse<Buffer> response = create("Slow store");

    // The store never answers, so any answer is todo-api's own: each attempt cut at STATE_TIMEOUT_MS and given up.
    assertJsonError(response, 504, "SIDECAR_TIMEOUT");
    assertEquals(2, sidecar.stateSaves().size());
    assertEquals(0, sidecar.invocations().size());
    eventually("both hanging saves given up (their connections closed)", () -> sidecar.abandoned() >= 2);
  }

  @Test
  void aFailingNotificationStillCreatesTheTaskAndSaysWhy() throws Exception {
    deploy();
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;

    HttpResponse<Buffer> response = create("Send invoices");

    assertEquals(201, response.statusCode());
    JsonObject task = response.bodyAsJsonObject();
    JsonObject notification = task.getJsonObject("notification");
    assertEquals("pending", notification.getString("status"), notification::encode);
    assertEquals("outbox", notification.getString("redelivery"));
    assertEquals("SIDECAR_ERROR", notification.getString("error"));
    assertEquals("ERR_DIRECT_INVOKE", notification.getString("dapr_error_code"));
    assertEquals(task.getString("title"), sidecar.value("task-" + task.getString("id")).getString("title"));
    assertEquals(1, sidecar.invocations().size(), "a failure that may have reached the app is not sent again inline");
    assertEquals(1, sidecar.published().size(), "the outbox has it");
  }

  @Test
  void aNotificationThatNeverReachedAReplicaIsSentAgain() throws Exception {
    deploy();
    sidecar.appDownFor.set(1);

    JsonObject notification = create("Dead replica").bodyAsJsonObject().getJsonObject("notification");

    assertEquals("delivered", notification.getString("status"), notification::encode);
    List<FakeSidecar.Received> invocations = sidecar.invocations();
    assertEquals(2, invocations.size());
    assertEquals(invocations.get(0).json(), invocations.get(1).json());
  }

  @Test
  void sendingAgainIsBoundedByNotifyUndeliveredRetries() throws Exception {
    deploy("NOTIFY_UNDELIVERED_RETRIES", "2");
    sidecar.appDownFor.set(100);

    JsonObject notification = create("All dead").bodyAsJsonObject().getJsonObject("notification");

    assertEquals("pending", notification.getString("status"), notification::encode);
    assertEquals("ERR_DIRECT_INVOKE", notification.getString("dapr_error_code"));
    assertEquals(3, sidecar.invocations().size(), "one call and two retries");
  }

  @Test
  void aHangingNotificationIsCutAtTheTimeout() throws Exception {
    deploy("NOTIFY_TIMEOUT_MS", "300");
    sidecar.invokeMode = FakeSidecar.Mode.HANG;

    long start = System.nanoTime();
    HttpResponse<Buffer> response = create("Slow notify");
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

    // The invocation never answers: the 201 came once todo-api gave up on it, not sooner than NOTIFY_TIMEOUT_MS.
    assertEquals(201, response.statusCode());
    JsonObject notification = response.bodyAsJsonObject().getJsonObject("notification");
    assertEquals("SIDECAR_TIMEOUT", notification.getString("error"), notification::encode);
    assertEquals("pending", notification.getString("status"));
    assertEquals(1, sidecar.invocations().size(), "a notification is never retried inline");
    assertTrue(elapsedMs >= 300, "answered after " + elapsedMs + " ms, before NOTIFY_TIMEOUT_MS");
    eventually("the hanging invocation given up (its connection closed)", () -> sidecar.abandoned() >= 1);
  }

  @Test
  void theNotificationBreakerOpensAndFailsFastWithoutCalling() throws Exception {
    // A reset window far longer than the test: the breaker stays open however slow the machine is.
    deploy("BREAKER_MAX_FAILURES", "3", "BREAKER_RESET_MS", "600000");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    for (int i = 0; i < 3; i++) {
      assertEquals("SIDECAR_ERROR", create("t" + i).bodyAsJsonObject().getJsonObject("notification").getString("error"));
    }

    for (int i = 0; i < 5; i++) {
      JsonObject notification = create("open " + i).bodyAsJsonObject().getJsonObject("notification");
      assertEquals("CIRCUIT_OPEN", notification.getString("error"), notification::encode);
      assertEquals("pending", notification.getString("status"), "the outbox will deliver it");
    }
    assertEquals(3, sidecar.invocations().size(), "an open breaker sends nothing to the sidecar");
    assertEquals(8, sidecar.transactions().size(), "the tasks themselves are still saved");
  }

  @Test
  void theNotificationBreakerClosesAgainOnceNotificationServiceIsBack() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "1", "BREAKER_RESET_MS", "100");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    assertEquals("SIDECAR_ERROR", create("fails").bodyAsJsonObject().getJsonObject("notification").getString("error"));

    sidecar.invokeMode = FakeSidecar.Mode.OK;
    // However long each call takes, once the reset window has passed a call goes through and closes the breaker.
    eventually("a notification is delivered again", () ->
      "delivered".equals(create("probe").bodyAsJsonObject().getJsonObject("notification").getString("status")));
    assertEquals("delivered", create("after").bodyAsJsonObject().getJsonObject("notification").getString("status"));
    assertEquals("CLOSED", check("circuit-breakers").getJsonObject("data").getString("notification_service"));
  }

  @Test
  void theStateBreakerOpensAnd503sWithRetryAfter() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "2", "STATE_RETRIES", "0", "BREAKER_RESET_MS", "30000");
    sidecar.stateMode = FakeSidecar.Mode.FAIL;
    assertJsonError(create("a"), 502, "SIDECAR_ERROR");
    assertJsonError(create("b"), 502, "SIDECAR_ERROR");

    HttpResponse<Buffer> response = create("c");

    assertJsonError(response, 503, "CIRCUIT_OPEN");
    assertEquals("30", response.getHeader("Retry-After"));
    assertEquals(2, sidecar.stateSaves().size());
    assertJsonError(get("7c0d3f5e-3b2a-4a8e-9d6b-0a1b2c3d4e5f"), 503, "CIRCUIT_OPEN");
    assertEquals(2, sidecar.dataCalls().size(), "reads share the state store's breaker");
  }

  /** The lines {@link BreakerFailures} logs while {@code body} runs. */
  private List<String> breakerLog(Check body) throws Exception {
    List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(BreakerFailures.class.getName());
    java.util.logging.Handler handler = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord record) {
        lines.add(record.getLevel() + " " + record.getMessage());
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    };
    logger.addHandler(handler);
    try {
      body.holds();
    } finally {
      logger.removeHandler(handler);
    }
    return lines;
  }

  @Test
  void theFailuresThatOpenTheStateBreakerAreLoggedWithTheirCauseAndReadinessSaysWhyItIsOpen() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "3", "STATE_RETRIES", "0", "BREAKER_RESET_MS", "600000");
    sidecar.stateMode = FakeSidecar.Mode.FAIL;

    List<String> lines = breakerLog(() -> {
      for (int i = 0; i < 3; i++) {
        assertJsonError(create("fails " + i), 502, "SIDECAR_ERROR");
      }
      return true;
    });

    List<String> counted = lines.stream().filter(l -> l.contains("counts a failure")).toList();
    assertFalse(counted.isEmpty(), "the first counted failure is logged: " + lines);
    assertTrue(counted.get(0).startsWith("WARNING circuit breaker 'state store statestore' counts a failure "
      + "(ERR_STATE_TRANSACTION): transaction task-"), counted.get(0));
    assertTrue(counted.get(0).contains("connection refused"), "with Dapr's message: " + counted.get(0));
    List<String> open = lines.stream().filter(l -> l.contains(" OPEN after ")).toList();
    assertEquals(1, open.size(), lines::toString);
    assertTrue(open.get(0).contains("OPEN after 3 failures {ERR_STATE_TRANSACTION=3} (last: transaction task-"),
      open.get(0));
    JsonObject breakers = check("circuit-breakers").getJsonObject("data");
    assertEquals("OPEN", breakers.getString("state_store"), breakers::encode);
    JsonObject why = breakers.getJsonObject("open_because").getJsonObject("state_store");
    assertEquals(new JsonObject().put("ERR_STATE_TRANSACTION", 3), why.getJsonObject("failures"), why::encode);
    assertTrue(why.getString("last_failure").contains("ERR_STATE_TRANSACTION") || why.getString("last_failure")
      .contains("connection refused"), why::encode);
    assertEquals(600_000, java.time.Duration.between(java.time.Instant.parse(why.getString("since")),
      java.time.Instant.parse(why.getString("until"))).toMillis(), "until: since + BREAKER_RESET_MS");
    assertNull(breakers.getJsonObject("open_because").getJsonObject("notification_service"), breakers::encode);
  }

  @Test
  void notificationsThatNeverReachedAReplicaDoNotOpenTheNotifyBreakerWhileFailuresOfTheAppDo() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "2", "NOTIFY_UNDELIVERED_RETRIES", "0", "BREAKER_RESET_MS", "600000");
    // Every call meets a replica whose app is gone (Dapr: connection refused), none is sent again: each fails.
    sidecar.appDownFor.set(5);
    List<String> lines = breakerLog(() -> {
      for (int i = 0; i < 5; i++) {
        JsonObject notification = create("dead replica " + i).bodyAsJsonObject().getJsonObject("notification");
        assertEquals("pending", notification.getString("status"), notification::encode);
        assertEquals("ERR_DIRECT_INVOKE", notification.getString("dapr_error_code"), notification::encode);
      }
      return true;
    });
    assertEquals(5, sidecar.invocations().size());
    assertEquals("CLOSED", check("circuit-breakers").getJsonObject("data").getString("notification_service"));
    assertEquals(List.of(), lines, "nothing counted");

    // notification-service itself failing (an error that reached it) counts, and opens the breaker.
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    for (int i = 0; i < 2; i++) {
      assertEquals("SIDECAR_ERROR", create("fails " + i).bodyAsJsonObject().getJsonObject("notification")
        .getString("error"));
    }
    JsonObject open = create("open").bodyAsJsonObject().getJsonObject("notification");
    assertEquals("CIRCUIT_OPEN", open.getString("error"), open::encode);
    assertEquals(7, sidecar.invocations().size(), "nothing sent while open");
    JsonObject breakers = check("circuit-breakers").getJsonObject("data");
    assertEquals("OPEN", breakers.getString("notification_service"), breakers::encode);
    assertEquals(new JsonObject().put("ERR_DIRECT_INVOKE", 2), breakers.getJsonObject("open_because")
      .getJsonObject("notification_service").getJsonObject("failures"), breakers::encode);
  }

  private JsonObject readiness() throws Exception {
    return request(HttpMethod.GET, "/health/ready").send().await(15, TimeUnit.SECONDS).bodyAsJsonObject();
  }

  private JsonObject check(String id) throws Exception {
    return readiness().getJsonArray("checks").stream().map(JsonObject.class::cast)
      .filter(check -> check.getString("id").equals(id)).findFirst().orElseThrow();
  }

  /** Posts {@code events} to todo-api as daprd's bulk subscribe does, and answers each entry's status. */
  private List<String> deliverOutbox(List<JsonObject> events) throws Exception {
    JsonArray entries = new JsonArray();
    for (int i = 0; i < events.size(); i++) {
      entries.add(new JsonObject().put("entryId", "entry-" + i).put("event", events.get(i))
        .put("contentType", "application/cloudevents+json").put("metadata", new JsonObject()));
    }
    JsonObject bulk = new JsonObject().put("entries", entries).put("id", "bulk-1").put("pubsubname", "pubsub")
      .put("topic", "notifications").put("type", "com.dapr.event.sent.bulk");
    HttpResponse<Buffer> response = send(request(HttpMethod.POST, "/outbox/notifications"), JSON, bulk.encode());
    assertEquals(200, response.statusCode(), response.bodyAsString());
    JsonArray statuses = response.bodyAsJsonObject().getJsonArray("statuses");
    assertEquals(events.size(), statuses.size());
    return java.util.stream.IntStream.range(0, statuses.size()).mapToObj(i -> {
      assertEquals("entry-" + i, statuses.getJsonObject(i).getString("entryId"));
      return statuses.getJsonObject(i).getString("status");
    }).toList();
  }

  @Test
  void todoApiSubscribesToTheNotificationsTopicAndItsDeadLetterTopicInBulk() throws Exception {
    deploy();
    JsonArray subscriptions = send(request(HttpMethod.GET, "/dapr/subscribe"), null, null).bodyAsJsonArray();

    assertEquals(2, subscriptions.size());
    for (int i = 0; i < 2; i++) {
      JsonObject subscription = subscriptions.getJsonObject(i);
      assertEquals(List.of("notifications", "notifications-retry").get(i), subscription.getString("topic"));
      assertEquals("pubsub", subscription.getString("pubsubname"));
      assertEquals("/outbox/notifications", subscription.getString("route"));
      assertEquals("notifications-retry", subscription.getString("deadLetterTopic"),
        "what Dapr's retries do not deliver goes round again, never dropped");
      assertTrue(subscription.getJsonObject("bulkSubscribe").getBoolean("enabled"));
    }
  }

  @Test
  void aNotificationTheFirstAttemptMissedIsDeliveredFromTheOutbox() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "1000");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    JsonObject task = create("Book flights").bodyAsJsonObject();
    assertEquals("pending", task.getJsonObject("notification").getString("status"));
    String notificationId = task.getString("id") + ":created";
    assertEquals(0, sidecar.deliveries(notificationId));

    // notification-service still down: todo-api answers RETRY and Dapr keeps the event.
    assertEquals(List.of("RETRY"), deliverOutbox(sidecar.published()));
    assertEquals(0, sidecar.deliveries(notificationId));

    sidecar.invokeMode = FakeSidecar.Mode.OK;
    assertEquals(List.of("SUCCESS"), deliverOutbox(sidecar.published()));

    assertEquals(1, sidecar.deliveries(notificationId), "received once, at the receiving end");
    assertEquals(new JsonObject().put("message", "Todo created: Book flights").put("task_id", task.getString("id"))
      .put("notification_id", notificationId), sidecar.invocations().get(2).json());
    JsonObject counts = check("notifications").getJsonObject("data");
    assertEquals(1, counts.getInteger("delivered_by_outbox"));
    assertEquals(1, counts.getInteger("outbox_retries"));
  }

  @Test
  void whileTheNotificationBreakerIsOpenOutboxEventsAreRetriedWithoutReadingOrSending() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "1", "BREAKER_RESET_MS", "600000");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    create("Opens the breaker");
    int callsBefore = sidecar.dataCalls().size();

    assertEquals(List.of("RETRY"), deliverOutbox(sidecar.published()));

    assertEquals(callsBefore, sidecar.dataCalls().size(), "no read of the task, no invocation");
  }

  @Test
  void aNotificationAnotherReplicaIsDeliveringIsLeftToTheOutbox() throws Exception {
    deploy();
    sidecar.inProgressOnNextInvoke = true;

    JsonObject notification = create("In progress").bodyAsJsonObject().getJsonObject("notification");

    assertEquals("pending", notification.getString("status"), notification::encode);
    assertEquals("NOTIFICATION_IN_PROGRESS", notification.getString("dapr_error_code"));
    assertEquals(List.of("SUCCESS"), deliverOutbox(sidecar.published()), "sent again from the outbox");
  }

  @Test
  void a200WithoutNotificationServicesAnswerIsNotADeliveryAndTheOutboxSendsItAgain() throws Exception {
    deploy();
    sidecar.emptyAnswerOnNextInvoke = true;

    JsonObject task = create("Empty answer").bodyAsJsonObject();

    assertEquals("pending", task.getJsonObject("notification").getString("status"), task::encode);
    assertEquals(List.of("SUCCESS"), deliverOutbox(sidecar.published()));
    assertEquals(List.of(task.getString("id") + ":created"), sidecar.deliveredIds(), "delivered by the outbox");
  }

  @Test
  void anOutboxEventForANotificationAlreadyDeliveredIsAcknowledgedWithoutSendingIt() throws Exception {
    deploy();
    String id = create("Pay bills").bodyAsJsonObject().getString("id");

    assertEquals(List.of("SUCCESS"), deliverOutbox(sidecar.published()));

    assertEquals(1, sidecar.invocations().size(), "sent once: the first attempt delivered it");
    assertEquals(1, sidecar.deliveries(id + ":created"));
    assertEquals(1, check("notifications").getJsonObject("data").getInteger("outbox_already_delivered"));
  }

  @Test
  void invocationsHoldingEveryConnectionOfTheirPoolDoNotHoldUpSaves() throws Exception {
    deploy("HTTP_POOL_SIZE", "2", "NOTIFY_TIMEOUT_MS", "60000");
    sidecar.holdInvocations = true;
    List<Future<HttpResponse<Buffer>>> creates = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      creates.add(request(HttpMethod.POST, "/tasks").putHeader("Content-Type", JSON)
        .sendBuffer(Buffer.buffer(new JsonObject().put("title", "Bulkhead " + i).encode())));
      if (i == 1) {
        eventually("two invocations hold both connections of a pool of 2", () -> sidecar.heldCount() == 2);
      }
    }

    eventually("the third task is saved while the two invocations still hang", () -> sidecar.transactions().size() == 3);
    assertEquals(2, sidecar.heldCount(), "its own invocation waits for a connection of the invocations' pool");
    sidecar.releaseHeld();
    for (Future<HttpResponse<Buffer>> create : creates) {
      HttpResponse<Buffer> response = create.await(15, TimeUnit.SECONDS);
      assertEquals(201, response.statusCode(), response.bodyAsString());
      assertEquals("delivered", response.bodyAsJsonObject().getJsonObject("notification").getString("status"));
    }
  }

  @Test
  void anOutboxEventArrivingWhileTheFirstAttemptIsUnderWayWaitsForItInsteadOfSendingItAgain() throws Exception {
    deploy();
    sidecar.holdInvocations = true;
    Future<HttpResponse<Buffer>> created = request(HttpMethod.POST, "/tasks").putHeader("Content-Type", JSON)
      .sendBuffer(Buffer.buffer(new JsonObject().put("title", "Slow first attempt").encode()));
    eventually("the first attempt reaches notification-service", () -> sidecar.heldCount() == 1);
    assertEquals(1, sidecar.published().size(), "the outbox event, published while the first attempt is under way");

    List<JsonObject> events = sidecar.published();
    java.util.concurrent.FutureTask<List<String>> outbox = new java.util.concurrent.FutureTask<>(() -> deliverOutbox(events));
    new Thread(outbox, "daprd-posting-the-outbox-event").start();
    eventually("the outbox event waits for the first attempt",
      () -> check("notifications").getJsonObject("data").getInteger("outbox_waited_for_first_attempt") == 1);
    assertEquals(1, sidecar.invocations().size(), "not sent a second time beside the first attempt");
    sidecar.releaseHeld();

    assertEquals(List.of("SUCCESS"), outbox.get(15, TimeUnit.SECONDS));
    JsonObject task = created.await(15, TimeUnit.SECONDS).bodyAsJsonObject();
    assertEquals("delivered", task.getJsonObject("notification").getString("status"), task::encode);
    assertEquals(1, sidecar.invocations().size(), "sent once in all");
    assertEquals(1, sidecar.deliveries(task.getString("id") + ":created"), "received once, at the receiving end");
    assertEquals(1, check("notifications").getJsonObject("data").getInteger("outbox_already_delivered"));
  }

  @Test
  void afterARestartTheOutboxSendsANotificationAgainWithTheSameIdForNotificationServiceToRecognise()
    throws Exception {
    deploy();
    String id = create("Feed the cat").bodyAsJsonObject().getString("id");
    List<JsonObject> events = sidecar.published();

    deploy(); // a new todo-api process: it does not know what the first one delivered
    assertEquals(List.of("SUCCESS"), deliverOutbox(events));

    assertEquals(List.of(id + ":created", id + ":created"), sidecar.deliveredIds(),
      "sent again with the same notification_id, which notification-service answers from its record");
  }

  @Test
  void aCompletionRefusedForAStaleEtagIsNotAnnouncedEvenWhenRedisPublishesIt() throws Exception {
    deploy();
    sidecar.publishRefusedTransactions = true;
    String id = create("Clean windows").bodyAsJsonObject().getString("id");
    sidecar.conflictOnNextSave = true;
    assertJsonError(patch(id, null, "{\"status\":\"completed\"}"), 409, "CONCURRENT_UPDATE");
    List<JsonObject> events = sidecar.published();
    assertEquals(2, events.size(), "the created event and the phantom completion");

    assertEquals(List.of("SUCCESS", "SUCCESS"), deliverOutbox(events));

    assertEquals(List.of(id + ":created"), sidecar.deliveredIds(), "no 'Todo completed' for a task not completed");
    assertEquals(1, check("notifications").getJsonObject("data").getInteger("outbox_phantoms"));
  }

  @Test
  void aCommittedCompletionIsStillAnnouncedAfterTheTaskChangedAgain() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "1000");
    String id = create("Mow the lawn").bodyAsJsonObject().getString("id");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    assertEquals(200, patch(id, null, "{\"status\":\"completed\"}").statusCode());
    assertEquals(200, patch(id, null, "{\"status\":\"pending\"}").statusCode());
    sidecar.invokeMode = FakeSidecar.Mode.OK;

    assertEquals(List.of("SUCCESS", "SUCCESS"), deliverOutbox(sidecar.published()));

    assertEquals(1, sidecar.deliveredIds().stream().filter(n -> n.startsWith(id + ":completed:")).count(),
      "the task was completed, then reopened: the completion happened and is announced");
  }

  @Test
  void anOutboxEventPastNotifyGiveUpAfterMsIsGivenUpAndOneThatIsNotANotificationIsDiscarded() throws Exception {
    deploy("NOTIFY_GIVE_UP_AFTER_MS", "60000");
    JsonObject old = new JsonObject().put("message", "Todo created: old").put("task_id", "7c0d3f5e-3b2a-4a8e-9d6b-0a1b2c3d4e5f")
      .put("notification_id", "7c0d3f5e-3b2a-4a8e-9d6b-0a1b2c3d4e5f:created").put("event", "created")
      .put("requested_at", java.time.Instant.now().minusSeconds(120).toString()).put("version", 1);

    List<String> statuses = deliverOutbox(List.of(new JsonObject().put("data", old),
      new JsonObject().put("data", "map[message:not json]"), new JsonObject().put("data", new JsonObject())));

    assertEquals(List.of("SUCCESS", "SUCCESS", "SUCCESS"), statuses, "acknowledged, so that Dapr stops offering them");
    assertEquals(List.of(), sidecar.dataCalls(), "nothing read, nothing sent");
    assertEquals(3, check("notifications").getJsonObject("data").getInteger("given_up"));
  }

  @Test
  void aFullBulkOfAHundredEventsAsDaprdSendsThemIsAccepted() throws Exception {
    deploy();
    List<JsonObject> events = new java.util.ArrayList<>();
    for (int i = 0; i < 100; i++) {
      String taskId = java.util.UUID.randomUUID().toString();
      // daprd's CloudEvent carries trace fields and the pub/sub's names besides the data: about 700 bytes each.
      events.add(new JsonObject().put("id", "outbox-" + java.util.UUID.randomUUID()).put("source", "todo-api")
        .put("type", "com.dapr.event.sent").put("specversion", "1.0").put("datacontenttype", "application/json")
        .put("topic", "notifications").put("pubsubname", "pubsub").put("time", "2026-11-25T10:00:00Z")
        .put("traceid", "00-" + "0".repeat(32) + "-" + "0".repeat(16) + "-00").put("traceparent", "")
        .put("tracestate", "").put("data", new JsonObject().put("message", "Todo created: " + "x".repeat(200))
          .put("task_id", taskId).put("notification_id", taskId + ":created").put("event", "created")
          .put("requested_at", java.time.Instant.now().toString()).put("version", 1)));
    }

    List<String> statuses = deliverOutbox(events);

    assertEquals(100, statuses.size());
    assertTrue(statuses.stream().allMatch("SUCCESS"::equals), "no task behind them: phantoms, acknowledged");
    assertEquals(100, check("notifications").getJsonObject("data").getInteger("outbox_phantoms"));
  }

  @Test
  void aSingleCloudEventWithoutBulkIsAnsweredWithItsStatus() throws Exception {
    deploy();
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    create("Single event");
    sidecar.invokeMode = FakeSidecar.Mode.OK;

    HttpResponse<Buffer> response = send(request(HttpMethod.POST, "/outbox/notifications"),
      "application/cloudevents+json", sidecar.published().get(0).encode());

    assertEquals(new JsonObject().put("status", "SUCCESS"), response.bodyAsJsonObject());
    assertEquals(1, sidecar.deliveredIds().size());
  }

  @Test
  void anIdempotencyKeyMakesARetriedCreateAnswerTheFirstTask() throws Exception {
    deploy();
    HttpResponse<Buffer> first = send(request(HttpMethod.POST, "/tasks").putHeader("Idempotency-Key", "order-42"),
      JSON, "{\"title\":\"Ship order 42\"}");
    HttpResponse<Buffer> retry = send(request(HttpMethod.POST, "/tasks").putHeader("Idempotency-Key", "order-42"),
      JSON, "{\"title\":\"Ship order 42\"}");

    assertEquals(201, first.statusCode(), first.bodyAsString());
    assertEquals(201, retry.statusCode(), retry.bodyAsString());
    String id = first.bodyAsJsonObject().getString("id");
    assertEquals(id, retry.bodyAsJsonObject().getString("id"));
    assertEquals("true", retry.getHeader("Idempotent-Replayed"));
    assertEquals("/tasks/" + id, retry.getHeader("Location"));
    assertEquals(1, sidecar.transactions().size(), "one task stored");
    assertEquals(List.of(id + ":created"), sidecar.deliveredIds(), "one notification");

    HttpResponse<Buffer> other = send(request(HttpMethod.POST, "/tasks").putHeader("Idempotency-Key", "order-42"),
      JSON, "{\"title\":\"Something else\"}");
    assertJsonError(other, 422, "IDEMPOTENCY_KEY_REUSED");
    assertEquals(1, sidecar.transactions().size());
  }

  @Test
  void aCreateWhoseFirstAttemptDiedAfterReservingItsKeyIsFinishedByTheRetry() throws Exception {
    deploy();
    // What a first attempt leaves when it dies between reserving the key and its transaction: the reservation only.
    String id = "0b7e2a10-52c4-4f3e-9d51-2f1a7c3e8b90";
    String created = "2026-11-25T10:00:00Z";
    sidecar.put("idempotency-" + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("k-1".getBytes(java.nio.charset.StandardCharsets.UTF_8))),
      new JsonObject().put("id", id).put("title", "Half done").put("status", "pending").put("created_at", created)
        .put("version", 1));

    HttpResponse<Buffer> retry = send(request(HttpMethod.POST, "/tasks").putHeader("Idempotency-Key", "k-1"),
      JSON, "{\"title\":\"Half done\"}");

    assertEquals(201, retry.statusCode(), retry.bodyAsString());
    assertEquals(id, retry.bodyAsJsonObject().getString("id"), "the task the key was reserved for");
    assertEquals(created, sidecar.value("task-" + id).getString("created_at"));
    assertEquals(List.of(id + ":created"), sidecar.deliveredIds());
  }

  @Test
  void aMalformedIdempotencyKeyIs400WithNothingStored() throws Exception {
    deploy();
    for (String key : List.of("", " ", "x".repeat(256), "caf\u00e9")) {
      HttpResponse<Buffer> response = send(request(HttpMethod.POST, "/tasks").putHeader("Idempotency-Key", key),
        JSON, "{\"title\":\"a\"}");
      assertJsonError(response, 400, "INVALID_IDEMPOTENCY_KEY");
    }
    assertEquals(List.of(), sidecar.dataCalls());
  }

  @Test
  void onStopReadinessGoesDownFirstThenRequestsInFlightFinish() throws Exception {
    // A drain window far longer than the two requests made in it, however slow the machine; the request in flight
    // is held by the stand-in sidecar until the listener has closed, so it is still in flight then.
    String deployment = deployReturningId("SHUTDOWN_DELAY_MS", "5000", "SHUTDOWN_TIMEOUT_MS", "30000",
      "NOTIFY_TIMEOUT_MS", "60000");
    sidecar.holdInvocations = true;
    Future<HttpResponse<Buffer>> inFlight = request(HttpMethod.POST, "/tasks").putHeader("Content-Type", JSON)
      .sendBuffer(Buffer.buffer("{\"title\":\"Last one\"}"));
    eventually("the request reaches the sidecar", () -> sidecar.heldCount() == 1);

    Future<Void> undeployed = vertx.undeploy(deployment);
    eventually("readiness answers 503 while stopping", () ->
      send(request(HttpMethod.GET, "/health/ready"), null, null).statusCode() == 503);

    // Still served while draining, but each answer closes its connection: the client's next one goes elsewhere.
    HttpResponse<Buffer> whileDraining = send(request(HttpMethod.GET, "/health/live"), null, null);
    assertEquals(200, whileDraining.statusCode());
    assertEquals("close", whileDraining.getHeader("Connection"));
    eventually("the listener closed after the drain window", () -> {
      try {
        send(request(HttpMethod.GET, "/health/live"), null, null);
        return false;
      } catch (Exception refused) {
        return true;
      }
    });
    assertTrue(!inFlight.isComplete(), "the request in flight is still waiting for its notification");
    sidecar.releaseHeld();
    HttpResponse<Buffer> last = inFlight.await(15, TimeUnit.SECONDS);
    assertEquals(201, last.statusCode(), "the request in flight is answered");
    assertEquals("delivered", last.bodyAsJsonObject().getJsonObject("notification").getString("status"));
    undeployed.await(15, TimeUnit.SECONDS);
  }

  @Test
  void moreThanOneVerticleInstanceIsRefused() throws Exception {
    Map<String, String> env = Map.of("APP_PORT", "0", "DAPR_HTTP_PORT", String.valueOf(sidecar.port()));
    Throwable refused = assertThrows(Exception.class, () -> vertx.deployVerticle(
      () -> new TodoVerticle(TodoConfig.from(new Env(env))), new io.vertx.core.DeploymentOptions().setInstances(2))
      .await(10, TimeUnit.SECONDS));
    assertTrue(String.valueOf(refused.getMessage()).contains("one verticle instance per process"), refused.toString());
  }

  private JsonObject complete(String id) throws Exception {
    HttpResponse<Buffer> response = patch(id, null, "{\"status\":\"completed\"}");
    assertEquals(200, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject();
  }

  @Test
  void aCompletionIsChargedOnceAtBillingServiceWithItsChargeSavedInTheSameTransaction() throws Exception {
    deploy();
    String id = create("Pay the plumber").bodyAsJsonObject().getString("id");

    JsonObject task = complete(id);

    String chargeId = id + ":completed:" + task.getString("completed_at");
    JsonObject billing = task.getJsonObject("billing");
    assertEquals("charged", billing.getString("status"), billing::encode);
    assertEquals(chargeId, billing.getString("charge_id"));
    assertEquals("fake-billing-1", billing.getString("replica"));
    assertEquals("delivered", task.getJsonObject("notification").getString("status"));
    assertEquals(1, sidecar.charges(chargeId), "billing-service received it once");
    FakeSidecar.Received call = sidecar.billingInvocations().get(0);
    assertEquals("/v1.0/invoke/billing-service/method/charges", call.path());
    assertEquals(new JsonObject().put("charge_id", chargeId).put("task_id", id).put("title", "Pay the plumber")
      .put("completed_at", task.getString("completed_at")), call.json());
    JsonObject saved = sidecar.transactions().get(1).json().getJsonArray("operations").getJsonObject(1)
      .getJsonObject("request").getJsonObject("value");
    assertEquals(call.json(), saved.getJsonObject("charge"), "the charge is in the outbox with the completion");

    // The outbox's event of the completion comes about a second later: this process charged it, so it sends nothing.
    assertEquals(List.of("SUCCESS", "SUCCESS"), deliverOutbox(sidecar.published()));
    complete(id); // completed already: no change, no second charge
    assertEquals(List.of(chargeId), sidecar.chargeIds());
    JsonObject counts = check("charges").getJsonObject("data");
    assertEquals(1, counts.getInteger("charged_first_attempt"), counts::encode);
    assertEquals(1, counts.getInteger("outbox_already_charged"), counts::encode);
  }

  @Test
  void withBillingServiceDownACompletionIsPendingAndTheOutboxChargesItOnceWhenItIsBack() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "1000");
    String id = create("Renew passport").bodyAsJsonObject().getString("id");
    sidecar.billingMode = FakeSidecar.Mode.FAIL;

    JsonObject task = complete(id);

    JsonObject billing = task.getJsonObject("billing");
    assertEquals("pending", billing.getString("status"), billing::encode);
    assertEquals("outbox", billing.getString("redelivery"));
    assertEquals("ERR_DIRECT_INVOKE", billing.getString("dapr_error_code"), billing::encode);
    assertEquals("delivered", task.getJsonObject("notification").getString("status"), "notifications go on");
    List<JsonObject> events = sidecar.published();
    assertEquals(List.of("SUCCESS", "RETRY"), deliverOutbox(events), "the completion's event waits for billing");

    sidecar.billingMode = FakeSidecar.Mode.OK;
    assertEquals(List.of("SUCCESS", "SUCCESS"), deliverOutbox(events));

    String chargeId = billing.getString("charge_id");
    assertEquals(List.of(chargeId), sidecar.chargeIds(), "charged once, by the outbox");
    assertEquals(1, sidecar.deliveries(id + ":completed:" + task.getString("completed_at")),
      "the notification delivered at once is not sent again while its charge waits");
    JsonObject counts = check("charges").getJsonObject("data");
    assertEquals(1, counts.getInteger("left_to_outbox"), counts::encode);
    assertEquals(1, counts.getInteger("outbox_retries"), counts::encode);
    assertEquals(1, counts.getInteger("charged_by_outbox"), counts::encode);
  }

  @Test
  void billingServicesBreakerOpensOnItsOwnAndLeavesNotificationsAndCreatesAlone() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "2", "BREAKER_RESET_MS", "600000");
    sidecar.billingMode = FakeSidecar.Mode.FAIL;
    for (int i = 0; i < 2; i++) {
      JsonObject billing = complete(create("fails " + i).bodyAsJsonObject().getString("id")).getJsonObject("billing");
      assertEquals("SIDECAR_ERROR", billing.getString("error"), billing::encode);
    }

    JsonObject open = complete(create("open").bodyAsJsonObject().getString("id"));

    assertEquals("CIRCUIT_OPEN", open.getJsonObject("billing").getString("error"), open::encode);
    assertEquals("pending", open.getJsonObject("billing").getString("status"));
    assertEquals("delivered", open.getJsonObject("notification").getString("status"));
    assertEquals(2, sidecar.billingInvocations().size(), "an open breaker sends nothing to billing-service");
    assertEquals(6, sidecar.invocations().size(), "every create and completion notified");
    JsonObject breakers = check("circuit-breakers").getJsonObject("data");
    assertEquals("OPEN", breakers.getString("billing_service"), breakers::encode);
    assertEquals("CLOSED", breakers.getString("notification_service"), breakers::encode);
    assertNotNull(breakers.getJsonObject("open_because").getJsonObject("billing_service"), breakers::encode);
    // While it is open, the outbox answers RETRY for the charge without calling billing-service.
    List<JsonObject> completions = sidecar.published().stream()
      .filter(e -> e.getJsonObject("data").getJsonObject("charge") != null).toList();
    assertEquals(List.of("RETRY", "RETRY", "RETRY"), deliverOutbox(completions));
    assertEquals(2, sidecar.billingInvocations().size());
  }

  @Test
  void aHangingBillingServiceIsCutAtBillingTimeoutMsAndTheChargeLeftToTheOutbox() throws Exception {
    deploy("BILLING_TIMEOUT_MS", "300");
    String id = create("Slow billing").bodyAsJsonObject().getString("id");
    sidecar.billingMode = FakeSidecar.Mode.HANG;

    JsonObject task = complete(id);

    assertEquals("SIDECAR_TIMEOUT", task.getJsonObject("billing").getString("error"), task::encode);
    assertEquals("pending", task.getJsonObject("billing").getString("status"));
    assertEquals("delivered", task.getJsonObject("notification").getString("status"));
    assertEquals(1, sidecar.billingInvocations().size(), "a charge that may have arrived is not sent again inline");
    eventually("the hanging charge given up (its connection closed)", () -> sidecar.abandoned() >= 1);
  }

  @Test
  void inTheHeaderFormTheChargeGoesToChargesWithDaprAppIdBillingService() throws Exception {
    deploy("INVOKE_MODE", "header", "BILLING_APP_ID", "billing-service");
    String id = create("Header charge").bodyAsJsonObject().getString("id");

    assertEquals("charged", complete(id).getJsonObject("billing").getString("status"));

    FakeSidecar.Received call = sidecar.billingInvocations().get(0);
    assertEquals("/charges", call.path());
    assertEquals("billing-service", call.headers().get("dapr-app-id"));
  }

  @Test
  void withChargesOffACompletionIsNotChargedAndItsAnswerHasNoBilling() throws Exception {
    deploy("CHARGES", "off");
    String id = create("Not billed").bodyAsJsonObject().getString("id");

    JsonObject task = complete(id);

    assertNull(task.getJsonObject("billing"), task::encode);
    assertEquals("delivered", task.getJsonObject("notification").getString("status"));
    assertEquals(List.of(), sidecar.billingInvocations());
    assertNull(sidecar.published().get(1).getJsonObject("data").getJsonObject("charge"), "no charge in the outbox");
    assertEquals(List.of("SUCCESS", "SUCCESS"), deliverOutbox(sidecar.published()));
    assertEquals(List.of(), sidecar.billingInvocations());
    assertFalse(check("charges").getJsonObject("data").getBoolean("enabled"));
  }

  @Test
  void theHeaderFormCallsTheSidecarWithDaprAppId() throws Exception {
    deploy("INVOKE_MODE", "header");

    HttpResponse<Buffer> response = create("Header form");

    assertEquals("delivered", response.bodyAsJsonObject().getJsonObject("notification").getString("status"));
    FakeSidecar.Received notify = sidecar.invocations().get(0);
    assertEquals("/notify", notify.path());
    assertEquals("notification-service", notify.headers().get("dapr-app-id"));
  }

  @Test
  void theApiTokenIsSentOnEveryCall() throws Exception {
    deploy("DAPR_API_TOKEN", "s3cret");
    String id = create("Token").bodyAsJsonObject().getString("id");
    get(id);
    readiness();

    List<FakeSidecar.Received> calls = sidecar.received();
    assertEquals(4, calls.size(), "transaction, invoke, get, healthz");
    calls.forEach(call -> assertEquals("s3cret", call.headers().get("dapr-api-token"), call.path()));
  }

  @Test
  void withAnAppApiTokenOnlyTheSidecarReachesTheSidecarRoutesWhileTasksAndHealthStayPublic() throws Exception {
    deploy("APP_API_TOKEN", "from-the-sidecar");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    JsonObject task = create("Token on the outbox route").bodyAsJsonObject();
    String notificationId = task.getString("id") + ":created";
    sidecar.invokeMode = FakeSidecar.Mode.OK;
    JsonObject bulk = new JsonObject().put("entries", new JsonArray().add(new JsonObject().put("entryId", "e-0")
      .put("event", sidecar.published().get(0)).put("contentType", "application/cloudevents+json")))
      .put("id", "bulk-1").put("pubsubname", "pubsub").put("topic", "notifications");

    for (String token : new String[] {null, "wrong", "from-the-sidecar-but-longer"}) {
      HttpRequest<Buffer> outbox = request(HttpMethod.POST, "/outbox/notifications");
      HttpRequest<Buffer> subscribe = request(HttpMethod.GET, "/dapr/subscribe");
      if (token != null) {
        outbox.putHeader("dapr-api-token", token);
        subscribe.putHeader("dapr-api-token", token);
      }
      for (HttpResponse<Buffer> refused : List.of(send(outbox, JSON, bulk.encode()), send(subscribe, null, null))) {
        assertEquals(401, refused.statusCode(), refused.bodyAsString());
        assertEquals("UNAUTHORIZED", refused.bodyAsJsonObject().getString("error"));
      }
    }
    assertEquals(0, sidecar.deliveries(notificationId), "a refused outbox call delivers nothing");

    HttpResponse<Buffer> fromSidecar = send(request(HttpMethod.POST, "/outbox/notifications")
      .putHeader("dapr-api-token", "from-the-sidecar"), JSON, bulk.encode());
    assertEquals(200, fromSidecar.statusCode(), fromSidecar.bodyAsString());
    assertEquals(1, sidecar.deliveries(notificationId), "the sidecar's call is delivered");
    assertEquals(200, send(request(HttpMethod.GET, "/dapr/subscribe").putHeader("dapr-api-token", "from-the-sidecar"),
      null, null).statusCode());
    assertEquals(200, send(request(HttpMethod.GET, "/health/live"), null, null).statusCode());
    assertEquals(200, send(request(HttpMethod.GET, "/tasks/" + task.getString("id")), null, null).statusCode(),
      "the public API needs no token");
  }

  @Test
  void aSidecarSlowerThanTheReadinessCheckMakesItDownAndNothingThrowsWhenItsAnswerComesLate() throws Exception {
    List<Throwable> unhandled = new java.util.concurrent.CopyOnWriteArrayList<>();
    vertx.exceptionHandler(unhandled::add);
    deploy("STATE_TIMEOUT_MS", "1500");
    sidecar.healthMode = FakeSidecar.Mode.HANG;

    // The health check's own timeout (1 s, Vert.x HealthChecks) answers first; the call to the sidecar times out later.
    // (Vert.x answers a check that timed out with 500, one that answered KO with 503: for a probe both are "not ready".)
    HttpResponse<Buffer> ready = send(request(HttpMethod.GET, "/health/ready"), null, null);
    assertTrue(ready.statusCode() == 500 || ready.statusCode() == 503, ready.statusCode() + " " + ready.bodyAsString());
    assertEquals("DOWN", ready.bodyAsJsonObject().getString("status"));
    // The late answer: the call to the sidecar fails at STATE_TIMEOUT_MS, when todo-api gives it up and closes it.
    eventually("the hanging healthz/outbound call given up", () -> sidecar.abandoned() >= 1);
    sidecar.healthMode = FakeSidecar.Mode.OK;
    // Served on the event loop that handled the late failure, so after it.
    assertEquals(200, send(request(HttpMethod.GET, "/health/ready"), null, null).statusCode());
    assertEquals(List.of(), unhandled, "a late answer completed the readiness check a second time");
  }

  @Test
  void readinessFollowsTheSidecarAndLivenessDoesNot() throws Exception {
    deploy();
    assertEquals(200, send(request(HttpMethod.GET, "/health/ready"), null, null).statusCode());

    sidecar.healthMode = FakeSidecar.Mode.FAIL;

    HttpResponse<Buffer> ready = send(request(HttpMethod.GET, "/health/ready"), null, null);
    assertEquals(503, ready.statusCode());
    assertEquals("DOWN", ready.bodyAsJsonObject().getString("status"));
    assertEquals(200, send(request(HttpMethod.GET, "/health/live"), null, null).statusCode());
    assertEquals(new JsonObject().put("status", "healthy"),
      send(request(HttpMethod.GET, "/health"), null, null).bodyAsJsonObject());
  }
}
