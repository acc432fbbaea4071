package com.example.dapr.todo;

import com.example.dapr.http.Env;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * todo-api's HTTP server as a client meets it: what Vert.x refuses before routing is JSON too (414, 431), the
 * connection closed.
 */
class TodoRequestLimitsTest {

  private Vertx vertx;
  private int port;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    FakeSidecar sidecar = new FakeSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    TodoVerticle verticle = new TodoVerticle(TodoConfig.from(new Env(Map.of("APP_PORT", "0",
      "DAPR_HTTP_PORT", String.valueOf(sidecar.port()), "SHUTDOWN_DELAY_MS", "0"))));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    port = verticle.actualPort();
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** Sends {@code bytes} as they are and answers all the server sent once it closed the connection. */
  private String untilClosed(String bytes) throws Exception {
    return vertx.createNetClient().connect(port, "127.0.0.1").compose(socket -> {
      Promise<String> closed = Promise.promise();
      Buffer received = Buffer.buffer();
      socket.handler(received::appendBuffer);
      socket.closeHandler(v -> closed.complete(received.toString()));
      return socket.write(bytes).compose(v -> closed.future());
    }).await(30, TimeUnit.SECONDS);
  }

  private static void assertJsonError(String response, String status, String error) {
    assertTrue(response.matches("(?s)HTTP/1\\.[01] " + status + " .*"), response);
    assertTrue(response.contains("\r\nContent-Type: application/json\r\n"), response);
    assertEquals(error, new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4)).getString("error"),
      response);
  }

  @Test
  void aTaskIdOfFiveThousandCharactersIsAnswered414InJson() throws Exception {
    assertJsonError(untilClosed("GET /tasks/" + "a".repeat(5_000) + " HTTP/1.1\r\nHost: x\r\n\r\n"), "414",
      "URI_TOO_LONG");
  }

  @Test
  void headersOverTheLimitAreAnswered431InJson() throws Exception {
    assertJsonError(untilClosed("GET /tasks/1 HTTP/1.1\r\nHost: x\r\nCookie: " + "c".repeat(9_000) + "\r\n\r\n"),
      "431", "HEADERS_TOO_LARGE");
  }
}
