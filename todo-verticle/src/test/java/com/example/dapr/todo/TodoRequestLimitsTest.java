package com.example.dapr.todo;

import com.example.dapr.http.Env;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * todo-api's HTTP server as a client meets it: what Vert.x refuses before routing is JSON (414, 431), a create whose
 * body stops coming is answered 408 and closed after REQUEST_READ_TIMEOUT_MS (here 300 ms), and a kept-alive
 * connection left idle for longer serves its next request.
 */
class TodoRequestLimitsTest {

  private Vertx vertx;
  private int port;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    FakeSidecar sidecar = new FakeSidecar().start(vertx).await(10, TimeUnit.SECONDS);
    TodoVerticle verticle = new TodoVerticle(TodoConfig.from(new Env(Map.of("APP_PORT", "0",
      "DAPR_HTTP_PORT", String.valueOf(sidecar.port()), "SHUTDOWN_DELAY_MS", "0", "REQUEST_READ_TIMEOUT_MS", "300"))));
    vertx.deployVerticle(verticle).await(10, TimeUnit.SECONDS);
    sidecar.awaitOutboxCheck(vertx);
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

  @Test
  void aCreateWhoseBodyStopsComingIsAnswered408AndClosed() throws Exception {
    assertJsonError(untilClosed("POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      + "Content-Length: 40\r\n\r\n{\"title\": \"half"), "408", "REQUEST_TIMEOUT");
  }

  @Test
  void aCreateWhoseHeadersStopComingIsAnswered408AndClosed() throws Exception {
    assertJsonError(untilClosed("POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Ty"), "408", "REQUEST_TIMEOUT");
  }

  /** As Dapr's sidecar keeps its connections to the app (dapr/dapr#7832): the second request goes on the first's. */
  @Test
  void aKeptAliveConnectionIdleForLongerThanTheBoundServesItsNextRequest() throws Exception {
    HttpClient client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true)
      .setKeepAliveTimeout(600), new io.vertx.core.http.PoolOptions().setHttp1MaxSize(1));
    String first = health(client);
    // Once a request that stalled after the first answer has been closed, the connection was idle past the bound.
    assertJsonError(untilClosed("GET /health HTTP/1.1\r\nHo"), "408", "REQUEST_TIMEOUT");
    assertEquals(first, health(client), "the same connection (local address) served the second request");
  }

  private String health(HttpClient client) throws Exception {
    return client.request(HttpMethod.GET, port, "127.0.0.1", "/health")
      .compose(request -> request.send().compose(response -> {
        assertEquals(200, response.statusCode());
        return response.body().map(body -> request.connection().localAddress().toString());
      }))
      .await(10, TimeUnit.SECONDS);
  }
}
