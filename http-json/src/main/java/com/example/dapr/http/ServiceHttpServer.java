package com.example.dapr.http;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;

/**
 * The HTTP server of each service: JSON for the requests Vert.x refuses before routing them ({@link InvalidRequests}).
 */
public final class ServiceHttpServer {

  private ServiceHttpServer() {
  }

  /** A server with {@code options} that hands each request to {@code handler}. */
  public static HttpServer create(Vertx vertx, HttpServerOptions options, Handler<HttpServerRequest> handler) {
    return vertx.createHttpServer(options)
      .invalidRequestHandler(InvalidRequests.handler(options))
      .requestHandler(handler);
  }
}
