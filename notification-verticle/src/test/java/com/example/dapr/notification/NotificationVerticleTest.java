package com.example.dapr.notification;

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

import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** notification-service on a random port, called the way its Dapr sidecar calls it. */
@ExtendWith(VertxExtension.class)
class NotificationVerticleTest {

  private static final String JSON = "application/json";

  private WebClient client;
  private int port;

  @BeforeEach
  void deploy(Vertx vertx) throws Exception {
    NotificationVerticle verticle = new NotificationVerticle(new NotificationConfig(0, "replica-a", 16_384, 3));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
    client = WebClient.create(vertx);
  }

  private HttpRequest<Buffer> request(HttpMethod method, String path) {
    return client.request(method, port, "127.0.0.1", path);
  }

  private HttpResponse<Buffer> notify(String contentType, String body) throws Exception {
    HttpRequest<Buffer> request = request(HttpMethod.POST, "/notify");
    if (contentType != null) {
      request.putHeader("Content-Type", contentType);
    }
    return (body == null ? request.send() : request.sendBuffer(Buffer.buffer(body))).await(10, TimeUnit.SECONDS);
  }

  private JsonObject deliveries(String query) throws Exception {
    return request(HttpMethod.GET, "/notifications" + query).send().await(10, TimeUnit.SECONDS).bodyAsJsonObject();
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
