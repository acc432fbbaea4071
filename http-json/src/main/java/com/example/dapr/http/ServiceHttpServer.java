package com.example.dapr.http;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;

/**
 * The HTTP server of each service: HTTP/1.1, JSON for the requests Vert.x refuses before routing them
 * ({@link InvalidRequests}), and a bound on how long each request may take to arrive ({@link RequestReadDeadline}).
 */
public final class ServiceHttpServer {

  /** How long a request may take from its first byte to its last, in ms; the same variable for both services. */
  public static final String REQUEST_READ_TIMEOUT_MS = "REQUEST_READ_TIMEOUT_MS";
  /** 10 s: daprd's own HTTP server's {@code ReadHeaderTimeout} (dapr/dapr pkg/api/http/server.go:154, v1.18.3). */
  public static final long DEFAULT_REQUEST_READ_TIMEOUT_MS = 10_000;

  private ServiceHttpServer() {
  }

  /** {@value #REQUEST_READ_TIMEOUT_MS}, from 100 ms to 10 min; {@link #DEFAULT_REQUEST_READ_TIMEOUT_MS} unset. */
  public static long requestReadTimeoutMs(Env env) {
    return env.number(REQUEST_READ_TIMEOUT_MS, DEFAULT_REQUEST_READ_TIMEOUT_MS, 100, 600_000);
  }

  /**
   * A server with {@code options} that hands each request to {@code handler}. HTTP/1.1 only, whatever
   * {@code options} say about h2c: it is what both sidecars speak to their app ({@code --app-protocol http}), and it
   * puts the bound in place at accept, before Vert.x's h2c detection has read the first bytes.
   */
  public static HttpServer create(Vertx vertx, HttpServerOptions options, long requestReadTimeoutMs,
                                  Handler<HttpServerRequest> handler) {
    HttpServerOptions http1 = new HttpServerOptions(options).setHttp2ClearTextEnabled(false);
    RequestReadDeadline deadline = new RequestReadDeadline(requestReadTimeoutMs);
    return vertx.createHttpServer(http1)
      .invalidRequestHandler(InvalidRequests.handler(http1))
      .connectionHandler(deadline::watch)
      .requestHandler(deadline.watching(handler));
  }
}
