package com.example.dapr.e2e;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The user who arrives with a plain {@code statestore} (in-memory or Redis, no outbox metadata): started with
 * {@code scripts/run.sh --state-components} and the component folders under {@code src/test/resources/plain-state},
 * against real daprd. todo-api's readiness says what is missing, creates and completions are refused before anything
 * is written, nothing reaches a replica, and what was written reads back as written.
 */
class PlainStateStoreE2E {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  private static final List<String> MISSING = List.of("outboxPublishPubsub", "outboxPublishTopic");

  @ParameterizedTest(name = "plain {0} store")
  @ValueSource(strings = {"memory", "redis"})
  void aStoreWithoutTheOutboxIsToldAndNeverGetsANotificationOverATask(String store) throws Exception {
    String name = "plain-" + store;
    Path components = ROOT.resolve("e2e-tests/src/test/resources/plain-state/" + store);
    try (EmbeddedSystem system = EmbeddedSystem.start(name, TestSystems.offset(name),
        "--state-components", components.toString(), "--replicas", "1");
         Http http = new Http().authorize(system::tokenFor)) {
      int todo = system.todoPort();
      int sidecar = system.todoSidecarPort();

      // Readiness: DOWN, naming the component and the metadata it lacks; scripts/run.sh and the log said so too.
      HttpResponse<Buffer> ready = http.get(todo, "/health/ready");
      assertEquals(503, ready.statusCode(), ready.bodyAsString());
      JsonObject entry = ready.bodyAsJsonObject().getJsonArray("checks").stream().map(JsonObject.class::cast)
        .filter(c -> c.getString("id").equals("state-store-outbox")).findFirst().orElseThrow();
      JsonObject data = entry.getJsonObject("data");
      assertEquals("DOWN", entry.getString("status"), entry::encode);
      assertEquals("statestore", data.getString("component"), entry::encode);
      assertEquals(new JsonArray(MISSING), data.getJsonArray("missing_metadata"), entry::encode);
      assertTrue(data.getString("message").contains("lacks outboxPublishPubsub and outboxPublishTopic"), entry::encode);
      String runLog = Files.readString(system.logs().resolve("../run.sh.log"));
      assertTrue(runLog.contains("todo-api is not ready: state store component 'statestore' has no transactional "
        + "outbox"), runLog);
      List<String> severe = Files.readAllLines(system.logs().resolve("todo-api.log")).stream()
        .filter(line -> line.contains("SEVERE") && line.contains("has no transactional outbox")).toList();
      assertEquals(1, severe.size(), () -> "one SEVERE line: " + severe);

      // What the user wrote through the sidecar before: a task, and a value of their own.
      String id = UUID.randomUUID().toString();
      JsonObject task = new JsonObject().put("id", id).put("title", "Written by hand").put("status", "pending")
        .put("created_at", "2026-12-03T10:00:00Z").put("version", 1);
      JsonObject own = new JsonObject().put("note", "mine");
      save(http, sidecar, "task-" + id, task);
      save(http, sidecar, "user-note", own);

      // A create is refused before anything is written: no call to the state API at all, not even the reservation
      // of its Idempotency-Key.
      long stateCallsBefore = stateApiCalls(system);
      HttpResponse<Buffer> created = http.postJson(todo, "/tasks", new JsonObject().put("title", "Refused"),
        "Idempotency-Key", "plain-" + store);
      assertRefused(created);
      assertEquals(stateCallsBefore, stateApiCalls(system), "the refused create made no state call");
      assertEquals(204, read(http, sidecar, "idempotency-" + sha256("plain-" + store)).statusCode());
      if (store.equals("redis")) {
        int redisPort = URI.create(system.url("redis")).getPort();
        assertEquals("todo-api||task-" + id, RedisCli.run(redisPort, "KEYS", "todo-api||task-*"),
          "the only task in Redis is the one written by hand");
      }

      // A completion is refused; the task reads back as written.
      HttpResponse<Buffer> completed = http.request(HttpMethod.PATCH, todo, "/tasks/" + id)
        .sendJsonObject(new JsonObject().put("status", "completed")).await(15, TimeUnit.SECONDS);
      assertRefused(completed);
      assertEquals(task, read(http, sidecar, "task-" + id).bodyAsJsonObject());

      // A title-only change is one plain save, and works.
      HttpResponse<Buffer> renamed = http.request(HttpMethod.PATCH, todo, "/tasks/" + id)
        .sendJsonObject(new JsonObject().put("title", "Renamed")).await(15, TimeUnit.SECONDS);
      assertEquals(200, renamed.statusCode(), renamed.bodyAsString());
      JsonObject stored = read(http, sidecar, "task-" + id).bodyAsJsonObject();
      assertEquals(task.copy().put("title", "Renamed").put("version", 2), stored);
      assertEquals(stored, http.get(todo, "/tasks/" + id).bodyAsJsonObject());
      assertEquals(own, read(http, sidecar, "user-note").bodyAsJsonObject());

      // Nothing reached a replica.
      assertEquals(Map.of(), Receipts.count(system.logs()), "no notification received at any replica");
    }
  }

  private static void assertRefused(HttpResponse<Buffer> response) {
    assertEquals(503, response.statusCode(), response.bodyAsString());
    JsonObject body = response.bodyAsJsonObject();
    assertEquals("STATE_STORE_WITHOUT_OUTBOX", body.getString("error"), body::encode);
    assertEquals(new JsonArray(MISSING), body.getJsonArray("missing_metadata"), body::encode);
  }

  private static void save(Http http, int sidecar, String key, JsonObject value) throws Exception {
    HttpResponse<Buffer> saved = http.request(HttpMethod.POST, sidecar, "/v1.0/state/statestore")
      .sendJson(new JsonArray().add(new JsonObject().put("key", key).put("value", value)))
      .await(15, TimeUnit.SECONDS);
    assertEquals(204, saved.statusCode(), saved.bodyAsString());
  }

  private static HttpResponse<Buffer> read(Http http, int sidecar, String key) throws Exception {
    return http.get(sidecar, "/v1.0/state/statestore/" + key);
  }

  /** The state API calls todo-api's sidecar logged so far (it runs with --enable-api-logging). */
  private static long stateApiCalls(EmbeddedSystem system) throws Exception {
    return Files.readAllLines(system.logs().resolve("todo-api-daprd.log")).stream()
      .filter(line -> line.contains("/v1.0/state/")).count();
  }

  private static String sha256(String text) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
  }
}
