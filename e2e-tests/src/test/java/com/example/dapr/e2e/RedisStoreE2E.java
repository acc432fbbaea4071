package com.example.dapr.e2e;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The seed's setup: the state store is Redis (state.redis), started by {@code scripts/run.sh --redis}. */
class RedisStoreE2E extends AgainstEmbeddedSystem {

  RedisStoreE2E() {
    super("redis", TestSystems.offset("redis"), "--redis", "--replicas", "2");
  }

  @Test
  void tasksAreStoredInRedisUnderDaprsPrefixedKeyAndReadBack() throws Exception {
    HttpResponse<Buffer> created = http.postJson(system.todoPort(), "/tasks", new JsonObject().put("title", "In Redis"));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    JsonObject task = created.bodyAsJsonObject();
    String id = task.getString("id");
    assertEquals("delivered", task.getJsonObject("notification").getString("status"));

    HttpResponse<Buffer> read = http.get(system.todoPort(), "/tasks/" + id);
    assertEquals(200, read.statusCode());
    assertEquals("In Redis", read.bodyAsJsonObject().getString("title"));
    assertTrue(read.getHeader("ETag").matches("\"\\d+\""), read.getHeader("ETag"));

    // Dapr's Redis store keeps each key as a hash "<app-id>||<key>" with the value in its "data" field.
    int redisPort = URI.create(system.url("redis")).getPort();
    String data = RedisCli.run(redisPort, "HGET", "todo-api||task-" + id, "data");
    assertEquals(read.bodyAsJsonObject(), new JsonObject(data));

    HttpResponse<Buffer> completed = http.client().patch(system.todoPort(), "127.0.0.1", "/tasks/" + id)
      .putHeader("If-Match", read.getHeader("ETag")).sendJsonObject(new JsonObject().put("status", "completed"))
      .await(15, TimeUnit.SECONDS);
    assertEquals(200, completed.statusCode(), completed.bodyAsString());
    assertEquals("\"" + (Long.parseLong(read.getHeader("ETag").replace("\"", "")) + 1) + "\"", completed.getHeader("ETag"));
  }

  @Test
  void tasksSurviveStoppingAndStartingTheSystemAgain() throws Exception {
    HttpResponse<Buffer> created = http.postJson(system.todoPort(), "/tasks", new JsonObject().put("title", "Kept"));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");

    system.stopAndStartAgain();

    HttpResponse<Buffer> read = http.get(system.todoPort(), "/tasks/" + id);
    assertEquals(200, read.statusCode(), "scripts/run.sh stop, then --redis again: the task is still there");
    assertEquals("Kept", read.bodyAsJsonObject().getString("title"));
  }
}
