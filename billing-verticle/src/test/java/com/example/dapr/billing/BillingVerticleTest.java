package com.example.dapr.billing;

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

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** billing-service on a random port, called the way its Dapr sidecar calls it, its ledger behind a fake sidecar. */
@ExtendWith(VertxExtension.class)
class BillingVerticleTest {

  private static final String JSON = "application/json";
  private static final String COMPLETED_AT = "2026-12-04T10:15:30.123Z";

  private Vertx vertx;
  private FakeLedgerSidecar sidecar;
  private WebClient client;
  private int port;

  @BeforeEach
  void deploy(Vertx vertx) throws Exception {
    this.vertx = vertx;
    sidecar = new FakeLedgerSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    client = WebClient.create(vertx);
    port = replica("billing-a", null, null, 2_000);
  }

  private int replica(String name, String appApiToken, String daprApiToken, long timeoutMs) throws Exception {
    BillingConfig config = new BillingConfig(0, name, 16_384, new BillingConfig.Ledger(FakeLedgerSidecar.STORE,
      "127.0.0.1", sidecar.port(), daprApiToken, timeoutMs), appApiToken, 10_000);
    BillingVerticle verticle = new BillingVerticle(config);
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    return verticle.actualPort();
  }

  private static JsonObject charge(String taskId) {
    return new JsonObject().put("charge_id", taskId + ":completed:" + COMPLETED_AT).put("task_id", taskId)
      .put("title", "Buy groceries").put("completed_at", COMPLETED_AT);
  }

  private HttpRequest<Buffer> request(int at, HttpMethod method, String path) {
    return client.request(method, at, "127.0.0.1", path);
  }

  private HttpResponse<Buffer> post(int at, JsonObject body) throws Exception {
    return request(at, HttpMethod.POST, "/charges").sendJsonObject(body).await(10, TimeUnit.SECONDS);
  }

  private HttpResponse<Buffer> get(String chargeId) throws Exception {
    return request(port, HttpMethod.GET, "/charges/" + chargeId).send().await(10, TimeUnit.SECONDS);
  }

  @Test
  void aChargeIsRecordedInTheLedgerAndReadBack() throws Exception {
    String taskId = UUID.randomUUID().toString();
    HttpResponse<Buffer> created = post(port, charge(taskId));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    JsonObject answer = created.bodyAsJsonObject();
    assertEquals("charged", answer.getString("status"));
    assertEquals(taskId + ":completed:" + COMPLETED_AT, answer.getString("charge_id"));
    assertEquals(taskId, answer.getString("task_id"));
    assertEquals("billing-a", answer.getString("replica"));
    assertNull(answer.getValue("duplicate"));
    assertNull(answer.getValue("attempt"), "the attempt token stays in the ledger");

    JsonObject entry = sidecar.value("charge-" + answer.getString("charge_id"));
    assertEquals(taskId, entry.getString("task_id"));
    assertEquals("Buy groceries", entry.getString("title"));
    assertEquals(COMPLETED_AT, entry.getString("completed_at"));

    HttpResponse<Buffer> read = get(answer.getString("charge_id"));
    assertEquals(200, read.statusCode());
    assertEquals(answer, read.bodyAsJsonObject());
  }

  @Test
  void aRepeatIsAnsweredWithTheFirstChargeAndRecordsNothing() throws Exception {
    String taskId = UUID.randomUUID().toString();
    JsonObject first = post(port, charge(taskId)).bodyAsJsonObject();
    HttpResponse<Buffer> again = post(port, charge(taskId).put("title", "renamed since"));
    assertEquals(200, again.statusCode(), again.bodyAsString());
    JsonObject repeat = again.bodyAsJsonObject();
    assertEquals(true, repeat.getBoolean("duplicate"));
    assertEquals(first.getString("recorded_at"), repeat.getString("recorded_at"));
    assertEquals("Buy groceries", repeat.getString("title"), "the ledger keeps the first charge");
    assertEquals(1, sidecar.applied());
    assertEquals(1, sidecar.size());
  }

  @Test
  void concurrentRepeatsOnTwoReplicasRecordOneCharge() throws Exception {
    int other = replica("billing-b", null, null, 2_000);
    String taskId = UUID.randomUUID().toString();
    List<Future<HttpResponse<Buffer>>> sent = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      sent.add(request(i % 2 == 0 ? port : other, HttpMethod.POST, "/charges").sendJsonObject(charge(taskId)));
    }
    Future.all(sent).await(20, TimeUnit.SECONDS);
    List<JsonObject> answers = sent.stream().map(f -> f.result().bodyAsJsonObject()).toList();
    long firsts = sent.stream().filter(f -> f.result().statusCode() == 201).count();
    long repeats = sent.stream().filter(f -> f.result().statusCode() == 200).count();
    assertEquals(1, firsts, "one call records the charge: " + answers);
    assertEquals(39, repeats, "every other call is answered from the ledger: " + answers);
    Set<String> recorded = answers.stream().map(a -> a.getString("recorded_at") + " " + a.getString("replica"))
      .collect(Collectors.toSet());
    assertEquals(1, recorded.size(), "every answer is the one charge: " + recorded);
    assertEquals(1, sidecar.applied());
  }

  @Test
  void aSaveAppliedWhoseAnswerWasLostIsThisCallsCharge() throws Exception {
    sidecar.mode = FakeLedgerSidecar.Mode.LOSES_ANSWERS;
    String taskId = UUID.randomUUID().toString();
    HttpResponse<Buffer> created = post(port, charge(taskId));
    assertEquals(201, created.statusCode(), "the ledger read back holds this call's attempt: " + created.bodyAsString());
    assertEquals(1, sidecar.applied());
    sidecar.mode = FakeLedgerSidecar.Mode.UP;
    assertEquals(200, post(port, charge(taskId)).statusCode());
  }

  @Test
  void aStoreThatIsDownIsA503WithDaprsCodeAndNothingIsCharged() throws Exception {
    sidecar.mode = FakeLedgerSidecar.Mode.DOWN;
    String taskId = UUID.randomUUID().toString();
    HttpResponse<Buffer> refused = post(port, charge(taskId));
    assertEquals(503, refused.statusCode());
    assertEquals("1", refused.getHeader("Retry-After"));
    JsonObject body = refused.bodyAsJsonObject();
    assertEquals("LEDGER_UNAVAILABLE", body.getString("error"));
    assertEquals("ERR_STATE_SAVE", body.getString("dapr_error_code"));
    assertEquals(0, sidecar.size());

    sidecar.mode = FakeLedgerSidecar.Mode.UP;
    assertEquals(201, post(port, charge(taskId)).statusCode(), "the same charge, sent again, is recorded");
    assertEquals(1, sidecar.applied());
  }

  @Test
  void aHangingSidecarIsA503AfterTheStateTimeout() throws Exception {
    int impatient = replica("billing-c", null, null, 300);
    sidecar.mode = FakeLedgerSidecar.Mode.HANGING;
    HttpResponse<Buffer> refused = post(impatient, charge(UUID.randomUUID().toString()));
    assertEquals(503, refused.statusCode());
    assertEquals("LEDGER_UNAVAILABLE", refused.bodyAsJsonObject().getString("error"));
    assertTrue(refused.bodyAsJsonObject().getString("message").contains("record charge")
      && refused.bodyAsJsonObject().getString("message").contains("no answer from the sidecar within 300 ms"),
      refused.bodyAsString());
    HttpResponse<Buffer> read = request(impatient, HttpMethod.GET, "/charges/x").send().await(10, TimeUnit.SECONDS);
    assertEquals(503, read.statusCode());
  }

  @Test
  void aChargeSavedWhoseAnswersNeverCameIsConfirmedByItsNextDeliveryOnce() throws Exception {
    // The save applied, then neither its answer nor the read back within STATE_TIMEOUT_MS: a 503, and todo-api sends
    // the charge again. That delivery finds this process's own unconfirmed attempt in the ledger: 201, recorded once,
    // and the one "Charge recorded" line is written then; a third delivery is a repeat.
    int impatient = replica("billing-d", null, null, 300);
    List<String> recordedLines = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Logger log = java.util.logging.Logger.getLogger(ChargeHandlers.class.getName());
    java.util.logging.Handler lines = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord line) {
        recordedLines.add(line.getMessage());
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    };
    log.addHandler(lines);
    sidecar.mode = FakeLedgerSidecar.Mode.APPLIES_THEN_HANGS;
    String taskId = UUID.randomUUID().toString();
    assertEquals(503, post(impatient, charge(taskId)).statusCode());
    assertEquals(1, sidecar.applied(), "the save was applied");
    sidecar.mode = FakeLedgerSidecar.Mode.UP;
    HttpResponse<Buffer> confirmed = post(impatient, charge(taskId));
    assertEquals(201, confirmed.statusCode(), confirmed.bodyAsString());
    assertEquals(null, confirmed.bodyAsJsonObject().getValue("duplicate"), confirmed.bodyAsString());
    HttpResponse<Buffer> again = post(impatient, charge(taskId));
    assertEquals(200, again.statusCode(), again.bodyAsString());
    assertEquals(true, again.bodyAsJsonObject().getBoolean("duplicate"), again.bodyAsString());
    assertEquals(1, sidecar.applied(), "recorded once");
    log.removeHandler(lines);
    assertEquals(1, recordedLines.stream().filter(l -> l.startsWith("Charge recorded: " + taskId + ":")).count(),
      "one Charge recorded line, written by the confirming delivery: " + recordedLines);
  }

  @Test
  void anUnknownChargeIs404() throws Exception {
    HttpResponse<Buffer> missing = get("nothing:completed:" + COMPLETED_AT);
    assertEquals(404, missing.statusCode());
    assertEquals("CHARGE_NOT_FOUND", missing.bodyAsJsonObject().getString("error"));
  }

  @Test
  void onlyItsSidecarsTokenIsServedAndItsOwnTokenGoesToTheSidecar() throws Exception {
    int guarded = replica("billing-d", "app-token", "dapr-token", 2_000);
    JsonObject charge = charge(UUID.randomUUID().toString());
    HttpResponse<Buffer> anonymous = request(guarded, HttpMethod.POST, "/charges").sendJsonObject(charge)
      .await(10, TimeUnit.SECONDS);
    assertEquals(401, anonymous.statusCode());
    HttpResponse<Buffer> wrong = request(guarded, HttpMethod.POST, "/charges").putHeader("dapr-api-token", "guess")
      .sendJsonObject(charge).await(10, TimeUnit.SECONDS);
    assertEquals(401, wrong.statusCode());
    assertEquals(0, sidecar.size(), "nothing charged for a refused caller");
    HttpResponse<Buffer> sidecarCall = request(guarded, HttpMethod.POST, "/charges")
      .putHeader("dapr-api-token", "app-token").sendJsonObject(charge).await(10, TimeUnit.SECONDS);
    assertEquals(201, sidecarCall.statusCode(), sidecarCall.bodyAsString());
    assertEquals(List.of("dapr-token"), sidecar.apiTokens().stream().distinct().toList());
    assertEquals(200, request(guarded, HttpMethod.GET, "/health").send().await(10, TimeUnit.SECONDS).statusCode());
    assertEquals(200, request(guarded, HttpMethod.GET, "/health/ready").send().await(10, TimeUnit.SECONDS)
      .statusCode());
  }

  static Stream<Arguments> badCharges() {
    String task = "t-1";
    String id = task + ":completed:" + COMPLETED_AT;
    JsonObject good = new JsonObject().put("charge_id", id).put("task_id", task).put("title", "a")
      .put("completed_at", COMPLETED_AT);
    return Stream.of(
      Arguments.of("no content type", null, good.encode(), 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("text/plain", "text/plain", good.encode(), 415, "UNSUPPORTED_MEDIA_TYPE"),
      Arguments.of("empty body", JSON, "", 400, "EMPTY_BODY"),
      Arguments.of("not JSON", JSON, "charge me", 400, "MALFORMED_JSON"),
      Arguments.of("truncated JSON", JSON, "{\"charge_id\":", 400, "MALFORMED_JSON"),
      Arguments.of("array", JSON, "[" + good.encode() + "]", 400, "NOT_AN_OBJECT"),
      Arguments.of("no charge_id", JSON, good.copy().putNull("charge_id").encode(), 400, "MISSING_FIELD"),
      Arguments.of("no task_id", JSON, without(good, "task_id"), 400, "MISSING_FIELD"),
      Arguments.of("no title", JSON, without(good, "title"), 400, "MISSING_FIELD"),
      Arguments.of("no completed_at", JSON, without(good, "completed_at"), 400, "MISSING_FIELD"),
      Arguments.of("numeric task_id", JSON, good.copy().put("task_id", 1).encode(), 400, "INVALID_FIELD"),
      Arguments.of("blank title", JSON, good.copy().put("title", "  ").encode(), 400, "INVALID_FIELD"),
      Arguments.of("title too long", JSON, good.copy().put("title", "x".repeat(201)).encode(), 400, "INVALID_FIELD"),
      Arguments.of("bidi override in title", JSON, good.copy().put("title", "\u202Eexe.pdf").encode(), 400,
        "INVALID_FIELD"),
      Arguments.of("NUL in title", JSON, good.copy().put("title", "a\u0000").encode(), 400, "INVALID_FIELD"),
      Arguments.of("completed_at not a time", JSON, good.copy().put("completed_at", "yesterday")
        .put("charge_id", task + ":completed:yesterday").encode(), 400, "INVALID_FIELD"),
      Arguments.of("charge_id of another task", JSON, good.copy().put("charge_id", "t-2:completed:" + COMPLETED_AT)
        .encode(), 400, "INVALID_FIELD"),
      Arguments.of("charge_id of another completion", JSON, good.copy().put("charge_id", task
        + ":completed:2026-01-01T00:00:00Z").encode(), 400, "INVALID_FIELD"),
      Arguments.of("duplicate charge_id", JSON, "{\"charge_id\":\"" + id + "\",\"charge_id\":\"" + id + "\"}", 400,
        "DUPLICATE_FIELD"),
      Arguments.of("unknown field", JSON, good.copy().put("amount", 100).encode(), 400, "UNKNOWN_FIELD"),
      Arguments.of("body over the limit", JSON, good.copy().put("title", "x".repeat(17_000)).encode(), 413,
        "PAYLOAD_TOO_LARGE"));
  }

  private static String without(JsonObject json, String field) {
    JsonObject copy = json.copy();
    copy.remove(field);
    return copy.encode();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCharges")
  void aBadChargeIsRefusedWithItsJsonErrorAndNothingIsCharged(String name, String contentType, String body,
                                                               int status, String error) throws Exception {
    HttpRequest<Buffer> request = request(port, HttpMethod.POST, "/charges");
    if (contentType != null) {
      request.putHeader("Content-Type", contentType);
    }
    HttpResponse<Buffer> refused = request.sendBuffer(Buffer.buffer(body)).await(10, TimeUnit.SECONDS);
    assertEquals(status, refused.statusCode(), refused.bodyAsString());
    assertEquals(error, refused.bodyAsJsonObject().getString("error"), refused.bodyAsString());
    assertEquals(0, sidecar.size(), "nothing is charged");
  }
}
