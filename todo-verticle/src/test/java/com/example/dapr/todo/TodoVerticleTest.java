package com.example.dapr.todo;

import com.example.dapr.http.Env;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
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

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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

  /** Deploys todo-api with the test defaults (no redelivery, fast retries) and {@code overrides}. */
  private void deploy(String... overrides) throws Exception {
    Map<String, String> env = new HashMap<>(Map.of(
      "APP_PORT", "0",
      "DAPR_HTTP_PORT", String.valueOf(sidecar.port()),
      "REDELIVERY_ATTEMPTS", "0",
      "RETRY_INITIAL_DELAY_MS", "5",
      "RETRY_MAX_DELAY_MS", "20"));
    for (int i = 0; i < overrides.length; i += 2) {
      env.put(overrides[i], overrides[i + 1]);
    }
    TodoVerticle verticle = new TodoVerticle(TodoConfig.from(new Env(env)));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
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
      vertx.timer(20).await();
    }
  }

  @FunctionalInterface
  private interface Check {
    boolean holds() throws Exception;
  }

  @Test
  void createStoresTheTaskUnderItsKeyAndSendsTheSeedsNotification() throws Exception {
    deploy();
    HttpResponse<Buffer> response = create("Buy groceries");

    assertEquals(201, response.statusCode(), response.bodyAsString());
    JsonObject task = response.bodyAsJsonObject();
    String id = task.getString("id");
    assertEquals(id, java.util.UUID.fromString(id).toString());
    assertEquals("Buy groceries", task.getString("title"));
    assertEquals("pending", task.getString("status"));
    assertEquals("/tasks/" + id, response.getHeader("Location"));
    assertEquals(new JsonObject().put("status", "delivered").put("replica", "fake-1"), task.getJsonObject("notification"));

    List<FakeSidecar.Received> saves = sidecar.stateSaves();
    assertEquals(1, saves.size());
    assertEquals("/v1.0/state/statestore", saves.get(0).path());
    JsonObject item = saves.get(0).body().toJsonArray().getJsonObject(0);
    assertEquals("task-" + id, item.getString("key"));
    assertEquals(new JsonObject().put("id", id).put("title", "Buy groceries").put("status", "pending")
      .put("created_at", task.getString("created_at")), item.getJsonObject("value"));
    assertFalse(item.containsKey("etag"), "a new task is saved unconditionally");

    List<FakeSidecar.Received> invocations = sidecar.invocations();
    assertEquals(1, invocations.size());
    FakeSidecar.Received notify = invocations.get(0);
    assertEquals("POST", notify.method());
    assertEquals("/v1.0/invoke/notification-service/method/notify", notify.path());
    assertEquals(JSON, notify.headers().get("Content-Type"));
    assertEquals(new JsonObject().put("message", "Todo created: Buy groceries").put("task_id", id), notify.json());
    assertNull(notify.headers().get("dapr-api-token"), "no token configured, none sent");
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

    JsonObject save = sidecar.stateSaves().get(1).body().toJsonArray().getJsonObject(0);
    assertEquals(etag.replace("\"", ""), save.getString("etag"));
    assertEquals("first-write", save.getJsonObject("options").getString("concurrency"));

    List<FakeSidecar.Received> invocations = sidecar.invocations();
    assertEquals(2, invocations.size());
    assertEquals(new JsonObject().put("message", "Todo completed: Water plants").put("task_id", id),
      invocations.get(1).json());

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

    sidecar.conflictOnNextSave = true;
    assertJsonError(patch(id, etag, "{\"status\":\"completed\"}"), 412, "ETAG_MISMATCH");
    sidecar.conflictOnNextSave = true;
    assertJsonError(patch(id, null, "{\"status\":\"completed\"}"), 409, "CONCURRENT_UPDATE");

    assertEquals("pending", sidecar.value("task-" + id).getString("status"));
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

  @Test
  void unknownRoutesAndMethodsAreJsonErrors() throws Exception {
    deploy();
    assertJsonError(send(request(HttpMethod.GET, "/nothing-here"), null, null), 404, "NOT_FOUND");
    assertJsonError(send(request(HttpMethod.DELETE, "/tasks"), null, null), 405,
      "METHOD_NOT_ALLOWED");
  }

  @Test
  void aFailingStateSaveIsRetriedThen502WithDaprsCodeAndNoNotification() throws Exception {
    deploy("STATE_RETRIES", "2", "BREAKER_MAX_FAILURES", "100");
    sidecar.stateMode = FakeSidecar.Mode.FAIL;

    HttpResponse<Buffer> response = create("Fix the bike");

    assertJsonError(response, 502, "SIDECAR_ERROR");
    assertEquals("ERR_STATE_SAVE", response.bodyAsJsonObject().getString("dapr_error_code"));
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

    long start = System.nanoTime();
    HttpResponse<Buffer> response = create("Slow store");
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

    assertJsonError(response, 504, "SIDECAR_TIMEOUT");
    assertEquals(2, sidecar.stateSaves().size());
    assertEquals(0, sidecar.invocations().size());
    // Two attempts of 300 ms and a retry delay of at most 20 ms: bounded, whatever the store does.
    assertTrue(elapsedMs < 5_000, "answered after " + elapsedMs + " ms");
  }

  @Test
  void aFailingNotificationStillCreatesTheTaskAndSaysWhy() throws Exception {
    deploy();
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;

    HttpResponse<Buffer> response = create("Send invoices");

    assertEquals(201, response.statusCode());
    JsonObject task = response.bodyAsJsonObject();
    JsonObject notification = task.getJsonObject("notification");
    assertEquals("failed", notification.getString("status"), notification::encode);
    assertEquals("SIDECAR_ERROR", notification.getString("error"));
    assertEquals("ERR_DIRECT_INVOKE", notification.getString("dapr_error_code"));
    assertEquals(task.getString("title"), sidecar.value("task-" + task.getString("id")).getString("title"));
    assertEquals(1, sidecar.invocations().size(), "a failure that may have reached the app is not sent again");
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

    assertEquals("failed", notification.getString("status"), notification::encode);
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

    assertEquals(201, response.statusCode());
    JsonObject notification = response.bodyAsJsonObject().getJsonObject("notification");
    assertEquals("SIDECAR_TIMEOUT", notification.getString("error"), notification::encode);
    assertEquals("failed", notification.getString("status"));
    assertEquals(1, sidecar.invocations().size(), "a notification is never retried inline");
    assertTrue(elapsedMs >= 300 && elapsedMs < 5_000, "answered after " + elapsedMs + " ms");
  }

  @Test
  void theNotificationBreakerOpensFailsFastWithoutCallingAndClosesAfterRecovery() throws Exception {
    deploy("BREAKER_MAX_FAILURES", "3", "BREAKER_RESET_MS", "300");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;
    for (int i = 0; i < 3; i++) {
      assertEquals("SIDECAR_ERROR", create("t" + i).bodyAsJsonObject().getJsonObject("notification").getString("error"));
    }

    for (int i = 0; i < 5; i++) {
      JsonObject notification = create("open " + i).bodyAsJsonObject().getJsonObject("notification");
      assertEquals("CIRCUIT_OPEN", notification.getString("error"), notification::encode);
    }
    assertEquals(3, sidecar.invocations().size(), "an open breaker sends nothing to the sidecar");
    assertEquals(8, sidecar.stateSaves().size(), "the tasks themselves are still saved");

    sidecar.invokeMode = FakeSidecar.Mode.OK;
    eventually("the breaker half-opens and closes again", () -> {
      HttpResponse<Buffer> response = create("probe");
      return "delivered".equals(response.bodyAsJsonObject().getJsonObject("notification").getString("status"));
    });
    assertEquals("delivered", create("after").bodyAsJsonObject().getJsonObject("notification").getString("status"));
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

  @Test
  void aNotificationThatFailedIsRedeliveredOnceNotificationServiceIsBack() throws Exception {
    deploy("REDELIVERY_ATTEMPTS", "20", "REDELIVERY_INITIAL_DELAY_MS", "20", "REDELIVERY_MAX_DELAY_MS", "50",
      "BREAKER_MAX_FAILURES", "1000");
    sidecar.invokeMode = FakeSidecar.Mode.FAIL;

    JsonObject task = create("Book flights").bodyAsJsonObject();
    JsonObject notification = task.getJsonObject("notification");
    assertEquals("pending", notification.getString("status"), notification::encode);
    assertEquals("queued", notification.getString("redelivery"));
    assertEquals("ERR_DIRECT_INVOKE", notification.getString("dapr_error_code"));

    eventually("a redelivery attempt fails too", () -> sidecar.invocations().size() >= 2);
    sidecar.invokeMode = FakeSidecar.Mode.OK;
    eventually("the queue drains", () -> readiness().getJsonArray("checks").stream()
      .map(JsonObject.class::cast)
      .filter(check -> check.getString("id").equals("circuit-breakers"))
      .anyMatch(check -> check.getJsonObject("data").getInteger("notifications_pending_redelivery") == 0));

    JsonObject expected = new JsonObject().put("message", "Todo created: Book flights").put("task_id", task.getString("id"));
    List<FakeSidecar.Received> invocations = sidecar.invocations();
    invocations.forEach(call -> assertEquals(expected, call.json()));
    int delivered = invocations.size();
    vertx.timer(200).await();
    assertEquals(delivered, sidecar.invocations().size(), "nothing is sent again once delivered");
  }

  private JsonObject readiness() {
    return request(HttpMethod.GET, "/health/ready").send().await().bodyAsJsonObject();
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
    assertEquals(4, calls.size(), "save, invoke, get, healthz");
    calls.forEach(call -> assertEquals("s3cret", call.headers().get("dapr-api-token"), call.path()));
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
