package com.example.dapr.http;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What Vert.x refuses before the router runs is answered in JSON too, and the connection closed: Netty's decoder
 * stops at a request line over 4,096 bytes (414), headers over 8,192 (431), or bytes that are not HTTP (400).
 */
class InvalidRequestsTest {

  private Vertx vertx;
  private int port;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    Router router = Router.router(vertx);
    JsonErrors.install(router);
    router.get("/tasks/:id").handler(ctx -> ctx.response().end("a task"));
    port = ServiceHttpServer.create(vertx, new HttpServerOptions(), 10_000, router)
      .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static JsonObject body(String response) {
    return new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4));
  }

  private static void assertJsonError(String response, String status, String error) {
    // Vert.x answers a request its decoder refused as HTTP/1.0: the version was not read, or not trusted.
    assertTrue(response.matches("(?s)HTTP/1\\.[01] " + status + " .*"), response);
    assertTrue(response.contains("\r\nContent-Type: application/json\r\n"), response);
    assertEquals(error, body(response).getString("error"), response);
  }

  @Test
  void aPathOfFiveThousandCharactersIsAnswered414InJsonAndClosed() throws Exception {
    try (RawConnection connection = new RawConnection(port)) {
      String response = connection.send("GET /tasks/" + "a".repeat(5_000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
        .untilClosed();
      assertJsonError(response, "414", "URI_TOO_LONG");
      assertTrue(body(response).getString("message").contains("longer than 4096 bytes"), response);
    }
  }

  @Test
  void headersLargerThanTheLimitAreAnswered431InJsonAndClosed() throws Exception {
    try (RawConnection connection = new RawConnection(port)) {
      String response = connection.send("GET /tasks/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(9_000)
        + "\r\n\r\n").untilClosed();
      assertJsonError(response, "431", "HEADERS_TOO_LARGE");
    }
  }

  @Test
  void bytesThatAreNotHttpAreAnswered400InJsonAndClosed() throws Exception {
    try (RawConnection connection = new RawConnection(port)) {
      String response = connection.send("GET /tasks/1 NOT-HTTP\r\nHost: x\r\n\r\n").untilClosed();
      assertJsonError(response, "400", "BAD_REQUEST");
    }
  }

  @Test
  void aRequestWithinTheLimitsStillReachesItsRoute() throws Exception {
    try (RawConnection connection = new RawConnection(port)) {
      String response = connection.send("GET /tasks/" + "a".repeat(4_000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
        .response();
      assertTrue(response.startsWith("HTTP/1.1 200 ") && response.endsWith("a task"), response);
    }
  }
}
