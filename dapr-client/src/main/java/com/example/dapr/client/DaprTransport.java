package com.example.dapr.client;

import com.example.dapr.client.SidecarException.Kind;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.net.ConnectException;
import java.util.concurrent.TimeUnit;

/**
 * HTTP to one Dapr sidecar: one {@link WebClient} with a bounded pool, Dapr's API token ({@code dapr-api-token}) on
 * every call, a timeout on every call, and every failure as a {@link SidecarException} that says what was being done.
 * An answer of any status is returned; {@link #expectSuccess} turns one that is not 2xx into Dapr's error.
 */
public final class DaprTransport {

  /**
   * Where the sidecar is and how to talk to it. {@code apiToken} may be null (no token). {@code metricsName} is the
   * {@code client_name} of this pool's timings when Vert.x metrics are on.
   */
  public record Options(String host, int port, String apiToken, int poolSize, int maxWaitQueue, long connectTimeoutMs,
                        String userAgent, String metricsName) {
  }

  private final WebClient client;
  private final Options options;

  public DaprTransport(Vertx vertx, Options options) {
    this.options = options;
    this.client = WebClient.create(vertx,
      (WebClientOptions) new WebClientOptions()
        .setMetricsName(options.metricsName())
        .setDefaultHost(options.host())
        .setDefaultPort(options.port())
        .setKeepAlive(true)
        .setTcpNoDelay(true)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.connectTimeoutMs()))
        .setUserAgent(options.userAgent()),
      // The wait queue is bounded so that an overload fails fast instead of piling up memory.
      new PoolOptions().setHttp1MaxSize(options.poolSize()).setMaxWaitQueueSize(options.maxWaitQueue()));
  }

  /**
   * Sends {@code body} (JSON, or nothing when null) with {@code headers} (may be null), and answers the response of
   * any status. Fails with {@link Kind#TIMEOUT} without an answer in {@code timeoutMs}, else {@link Kind#UNREACHABLE}.
   */
  public Future<HttpResponse<Buffer>> send(String operation, HttpMethod method, String uri, Buffer body,
                                           MultiMap headers, long timeoutMs) {
    HttpRequest<Buffer> request = client.request(method, uri).idleTimeout(timeoutMs).connectTimeout(timeoutMs);
    if (options.apiToken() != null) {
      request.putHeader("dapr-api-token", options.apiToken());
    }
    if (headers != null) {
      request.putHeaders(headers);
    }
    Future<HttpResponse<Buffer>> sent = body == null
      ? request.send()
      : request.putHeader("Content-Type", "application/json").sendBuffer(body);
    return sent.timeout(timeoutMs, TimeUnit.MILLISECONDS)
      .recover(failure -> Future.failedFuture(describe(operation, failure, timeoutMs)));
  }

  /** The same answer when it is 2xx, else Dapr's error in it. */
  public static Future<HttpResponse<Buffer>> expectSuccess(String operation, HttpResponse<Buffer> response) {
    int status = response.statusCode();
    return status / 100 == 2 ? Future.succeededFuture(response)
      : Future.failedFuture(SidecarException.fromResponse(operation, status, response.body()));
  }

  /** {@code GET /v1.0/healthz/outbound}: whether the sidecar is ready to serve the calls its app makes. */
  public Future<Void> outboundHealth(long timeoutMs) {
    String operation = "sidecar outbound health";
    return send(operation, HttpMethod.GET, "/v1.0/healthz/outbound", null, null, timeoutMs)
      .compose(response -> expectSuccess(operation, response)).mapEmpty();
  }

  /** {@code host:port}, for messages. */
  public String address() {
    return options.host() + ":" + options.port();
  }

  public void close() {
    client.close();
  }

  private SidecarException describe(String operation, Throwable failure, long timeoutMs) {
    if (failure instanceof SidecarException known) {
      return known;
    }
    if (failure instanceof java.util.concurrent.TimeoutException) {
      return new SidecarException(Kind.TIMEOUT, operation, 0, null,
        operation + ": no answer from the sidecar within " + timeoutMs + " ms", failure);
    }
    String reason = failure instanceof ConnectException ? "cannot connect to the Dapr sidecar at " + address()
      : "call to the Dapr sidecar at " + address() + " failed: " + failure;
    return new SidecarException(Kind.UNREACHABLE, operation, 0, null, operation + ": " + reason, failure);
  }
}
