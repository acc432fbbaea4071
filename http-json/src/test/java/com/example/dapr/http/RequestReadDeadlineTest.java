package com.example.dapr.http;

import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.handler.BodyHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request must arrive within REQUEST_READ_TIMEOUT_MS of its first byte (here 300 ms), headers and body, or it is
 * answered 408 in JSON and its connection closed; a connection with no request arriving is never closed. Each test
 * waits for the event itself (the server's answer, its close), bounded by the raw connection's 30 s per read; the
 * only clock a test reads is the bound's own lower end, which a timer cannot undercut.
 */
class RequestReadDeadlineTest {

  private static final long BOUND_MS = 300;
  private static final String POST_HEAD = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

  private Vertx vertx;
  private final CompletableFuture<Void> slowArrived = new CompletableFuture<>();
  private Promise<Void> releaseSlow;
  private int port;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    releaseSlow = Promise.promise();
    port = listen(BOUND_MS);
  }

  private int listen(long boundMs) throws Exception {
    Router router = Router.router(vertx);
    JsonErrors.install(router);
    router.get("/ok").handler(ctx -> ctx.response().end("ok"));
    router.post("/echo").handler(BodyHandler.create(false)).handler(ctx -> ctx.response()
      .end("received " + ctx.body().length() + " bytes"));
    router.get("/slow").handler(ctx -> {
      slowArrived.complete(null);
      releaseSlow.future().onSuccess(v -> ctx.response().end("slow"));
    });
    return ServiceHttpServer.create(vertx, new HttpServerOptions(), boundMs, router)
      .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static void assertTimedOutInJsonAndClosed(String untilClosed) {
    assertTrue(untilClosed.startsWith("HTTP/1.1 408 "), untilClosed);
    assertTrue(untilClosed.contains("\r\nContent-Type: application/json\r\n"), untilClosed);
    assertTrue(untilClosed.toLowerCase().contains("\r\nconnection: close\r\n"), untilClosed);
    JsonObject body = new JsonObject(untilClosed.substring(untilClosed.indexOf("\r\n\r\n") + 4));
    assertEquals("REQUEST_TIMEOUT", body.getString("error"), untilClosed);
    assertTrue(body.getString("message").contains("within " + BOUND_MS + " ms"), untilClosed);
  }

  @Test
  void aRequestLineThatNeverEndsIsAnswered408AndClosed() throws Exception {
    try (RawConnection stalled = new RawConnection(port)) {
      assertTimedOutInJsonAndClosed(stalled.send("GET /o").untilClosed());
    }
  }

  @Test
  void headersThatNeverEndAreAnswered408AndClosed() throws Exception {
    try (RawConnection stalled = new RawConnection(port)) {
      assertTimedOutInJsonAndClosed(stalled.send("GET /ok HTTP/1.1\r\nHost: x\r\nX-Half: ").untilClosed());
    }
  }

  @Test
  void aBodyThatNeverEndsIsAnswered408AndClosed() throws Exception {
    try (RawConnection stalled = new RawConnection(port)) {
      assertTimedOutInJsonAndClosed(stalled.send(POST_HEAD + "Content-Length: 100\r\n\r\n{\"title\": ").untilClosed());
    }
  }

  @Test
  void aChunkedBodyThatNeverEndsIsAnswered408AndClosed() throws Exception {
    try (RawConnection stalled = new RawConnection(port)) {
      assertTimedOutInJsonAndClosed(stalled.send(POST_HEAD + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
        .untilClosed());
    }
  }

  /**
   * A byte every 30 ms keeps an idle timer from ever firing; the bound still ends the request while the bytes come.
   * The client keeps writing, so the server's close may reach it as a reset rather than the 408 (the other tests
   * read the 408): what counts here is that the server ended it.
   */
  @Test
  void theBoundRunsFromTheFirstByteNotFromTheLastRead() throws Exception {
    try (RawConnection trickling = new RawConnection(port)) {
      long start = System.nanoTime();
      trickling.send(POST_HEAD + "Content-Length: 100000\r\n\r\n{");
      boolean ended = false;
      for (int i = 0; i < 1_000 && !ended; i++) {
        try {
          if (trickling.available() > 0) {
            trickling.untilClosed();
            ended = true;
          } else {
            trickling.send(" ");
            Thread.sleep(30);
          }
        } catch (java.io.IOException closed) {
          ended = true;
        }
      }
      assertTrue(ended, "still open after 1,000 bytes 30 ms apart");
      assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(BOUND_MS));
    }
  }

  /**
   * Dapr's sidecar keeps idle connections to its app and reuses them (dapr/dapr#7832): one that answered a request
   * (and then sent the empty line a server is to ignore between requests), and one accepted but never written to,
   * both outlive the bound and serve their next request.
   */
  @Test
  void idleKeepAliveConnectionsOutliveTheBoundAndServeTheirNextRequest() throws Exception {
    try (RawConnection used = new RawConnection(port); RawConnection unused = new RawConnection(port)) {
      assertTrue(used.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").response().endsWith("ok"));
      used.send("\r\n");
      long idleSince = System.nanoTime();
      // A request that stalls after both went idle: once it is closed, both were idle for longer than the bound.
      try (RawConnection stalled = new RawConnection(port)) {
        assertTimedOutInJsonAndClosed(stalled.send("GET /o").untilClosed());
      }
      assertTrue(System.nanoTime() - idleSince >= TimeUnit.MILLISECONDS.toNanos(BOUND_MS));
      String next = used.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").response();
      assertTrue(next.startsWith("HTTP/1.1 200 ") && next.endsWith("ok"), next);
      String first = unused.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").response();
      assertTrue(first.startsWith("HTTP/1.1 200 ") && first.endsWith("ok"), first);
    }
  }

  @Test
  void aBodyThatArrivesSlowlyButWithinTheBoundIsServed() throws Exception {
    int patient = listen(30_000);
    String body = "{\"title\": \"sent in four parts, 50 ms apart\"}";
    try (RawConnection slow = new RawConnection(patient)) {
      slow.send(POST_HEAD + "Content-Length: " + body.length() + "\r\n\r\n");
      int part = (body.length() + 3) / 4;
      for (int from = 0; from < body.length(); from += part) {
        Thread.sleep(50);
        slow.send(body.substring(from, Math.min(body.length(), from + part)));
      }
      String response = slow.response();
      assertTrue(response.startsWith("HTTP/1.1 200 ") && response.endsWith("received " + body.length() + " bytes"),
        response);
    }
  }

  @Test
  void aHandlerSlowerThanTheBoundIsNotCutOnceTheRequestHasArrived() throws Exception {
    try (RawConnection waiting = new RawConnection(port)) {
      waiting.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
      slowArrived.get(30, TimeUnit.SECONDS);
      try (RawConnection stalled = new RawConnection(port)) {
        assertTimedOutInJsonAndClosed(stalled.send("GET /o").untilClosed());
      }
      vertx.runOnContext(v -> releaseSlow.complete());
      String response = waiting.response();
      assertTrue(response.startsWith("HTTP/1.1 200 ") && response.endsWith("slow"), response);
    }
  }

  /** A request pipelined behind an answer still being made waits for the server; its own bound starts again after. */
  @Test
  void aRequestPipelinedBehindASlowAnswerIsNotTimedOutBeforeThatAnswer() throws Exception {
    try (RawConnection pipelined = new RawConnection(port)) {
      pipelined.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
      slowArrived.get(30, TimeUnit.SECONDS);
      pipelined.send("GET /ok HTTP/1.1\r\nHo");
      try (RawConnection stalled = new RawConnection(port)) {
        assertTimedOutInJsonAndClosed(stalled.send("GET /o").untilClosed());
      }
      vertx.runOnContext(v -> releaseSlow.complete());
      String first = pipelined.response();
      assertTrue(first.startsWith("HTTP/1.1 200 ") && first.endsWith("slow"), first);
      assertTimedOutInJsonAndClosed(pipelined.untilClosed());
    }
  }

  @Test
  void timeoutsAreCountedInTheMetricsByThePartThatStoppedComing() throws Exception {
    Vertx metered = Vertx.builder().with(new VertxOptions().setMetricsOptions(Observability.metricsOptions())).build();
    try {
      Router router = Router.router(metered);
      JsonErrors.install(router);
      router.post("/echo").handler(BodyHandler.create(false)).handler(ctx -> ctx.response().end());
      router.get(Observability.METRICS_PATH).handler(Observability.metricsHandler());
      int meteredPort = ServiceHttpServer.create(metered, new HttpServerOptions(), BOUND_MS, router)
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
      WebClient client = WebClient.create(metered);
      String before = client.get(meteredPort, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS).bodyAsString();
      try (RawConnection headers = new RawConnection(meteredPort); RawConnection body = new RawConnection(meteredPort)) {
        headers.send("GET /o");
        body.send(POST_HEAD + "Content-Length: 10\r\n\r\n{");
        assertTimedOutInJsonAndClosed(headers.untilClosed());
        assertTimedOutInJsonAndClosed(body.untilClosed());
      }
      String after = client.get(meteredPort, "127.0.0.1", "/metrics").send().await(10, TimeUnit.SECONDS).bodyAsString();
      assertEquals(timeouts(before, "headers") + 1, timeouts(after, "headers"), after);
      assertEquals(timeouts(before, "body") + 1, timeouts(after, "body"), after);
    } finally {
      metered.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static double timeouts(String scrape, String phase) {
    Matcher m = Pattern.compile("(?m)^http_server_request_read_timeouts_total\\{phase=\"" + phase + "\"} (\\S+)$")
      .matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  @Test
  void twoHundredStalledRequestsAreAllAnsweredAndClosed() throws Exception {
    List<RawConnection> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 200; i++) {
        RawConnection connection = new RawConnection(port);
        stalled.add(connection);
        connection.send(i % 2 == 0 ? POST_HEAD + "Content-Length: 100\r\n\r\n{\"title\": " : "GET /ok HTTP/1.1\r\nHo");
      }
      for (RawConnection connection : stalled) {
        assertTimedOutInJsonAndClosed(connection.untilClosed());
      }
    } finally {
      for (RawConnection connection : stalled) {
        connection.close();
      }
    }
  }
}
