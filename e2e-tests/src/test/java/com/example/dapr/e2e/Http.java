package com.example.dapr.e2e;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/** An HTTP client for the end-to-end tests (loopback, or the test cluster's own bridge): blocking calls for the test thread, and bounded concurrent load. */
final class Http implements AutoCloseable {

  private final Vertx vertx = Vertx.vertx();
  private final WebClient client = WebClient.create(vertx,
    new WebClientOptions().setDefaultHost("127.0.0.1").setKeepAlive(true),
    new PoolOptions().setHttp1MaxSize(64));

  /** Port to the {@code dapr-api-token} that {@link #request} sends there, or null (see {@link #authorize}). */
  private volatile IntFunction<String> tokens = port -> null;

  Vertx vertx() {
    return vertx;
  }

  /**
   * From now on, each request of this client carries the {@code dapr-api-token} header {@code tokenForPort} gives for
   * its port, if any; it is asked at every request, so it can follow a system that restarts with new tokens.
   */
  Http authorize(IntFunction<String> tokenForPort) {
    tokens = tokenForPort;
    return this;
  }

  /** A request to {@code port} on loopback, with the port's token if it has one, and a 10 s timeout. */
  HttpRequest<Buffer> request(HttpMethod method, int port, String path) {
    return request(method, "127.0.0.1", port, path);
  }

  /** The same to {@code host}: loopback, or an address on the cluster's own pod bridge ({@code ClusterK8s}). */
  HttpRequest<Buffer> request(HttpMethod method, String host, int port, String path) {
    HttpRequest<Buffer> request = client.request(method, port, host, path).timeout(10_000);
    String token = tokens.apply(port);
    return token == null ? request : request.putHeader("dapr-api-token", token);
  }

  WebClient client() {
    return client;
  }

  HttpResponse<Buffer> get(int port, String path) throws Exception {
    return request(HttpMethod.GET, port, path).send().await(15, TimeUnit.SECONDS);
  }

  HttpResponse<Buffer> postJson(int port, String path, JsonObject body, String... headers) throws Exception {
    return postAsync(port, path, body, headers).await(15, TimeUnit.SECONDS);
  }

  Future<HttpResponse<Buffer>> postAsync(int port, String path, JsonObject body, String... headers) {
    return postAsync("127.0.0.1", port, path, body, headers);
  }

  Future<HttpResponse<Buffer>> postAsync(String host, int port, String path, JsonObject body, String... headers) {
    var request = request(HttpMethod.POST, host, port, path);
    for (int i = 0; i < headers.length; i += 2) {
      request.putHeader(headers[i], headers[i + 1]);
    }
    return request.sendJsonObject(body);
  }

  /**
   * Runs {@code total} calls, at most {@code concurrency} at a time, and answers their outcomes in completion order;
   * a failed call is a failed future in the list, so nothing is lost and nothing hangs the test.
   */
  <T> List<Future<T>> run(int total, int concurrency, IntFunction<Future<T>> call) throws Exception {
    List<Future<T>> results = Collections.synchronizedList(new ArrayList<>(total));
    AtomicInteger next = new AtomicInteger();
    Promise<Void> done = Promise.promise();
    AtomicInteger finished = new AtomicInteger();
    vertx.runOnContext(v -> {
      for (int i = 0; i < Math.min(concurrency, total); i++) {
        startNext(total, call, next, finished, results, done);
      }
    });
    done.future().await(10, TimeUnit.MINUTES);
    return results;
  }

  private <T> void startNext(int total, IntFunction<Future<T>> call, AtomicInteger next, AtomicInteger finished,
                             List<Future<T>> results, Promise<Void> done) {
    int index = next.getAndIncrement();
    if (index >= total) {
      return;
    }
    Future<T> future;
    try {
      future = call.apply(index);
    } catch (RuntimeException e) {
      future = Future.failedFuture(e);
    }
    future.onComplete(ar -> {
      results.add(ar.succeeded() ? Future.succeededFuture(ar.result()) : Future.failedFuture(ar.cause()));
      if (finished.incrementAndGet() == total) {
        done.tryComplete();
      } else {
        startNext(total, call, next, finished, results, done);
      }
    });
  }

  @Override
  public void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }
}
