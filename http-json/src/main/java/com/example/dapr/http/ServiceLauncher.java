package com.example.dapr.http;

import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The services' main class: what Vert.x's launcher ({@code vertx-launcher-application}) did for them, without its
 * command line. It builds Vert.x with metrics ({@link Observability#metricsOptions}) and tracing (an OpenTelemetry SDK
 * from {@code OTEL_*}, see {@link Observability}), deploys the jar's {@code Main-Verticle} (or the class named by the
 * first argument), and on SIGTERM closes Vert.x (each verticle's stop: the graceful drain) and then the tracer, so
 * that the last spans are flushed.
 * <p>
 * Why not the launcher: it parses its command line with picocli, whose reflection at every start is a good part of
 * the start (docs/running.md) for options these services never take: they are configured by environment variables
 * alone. The exit codes are the launcher's: 15 when the verticle fails to deploy.
 */
public final class ServiceLauncher {

  /** The launcher's exit code for a verticle that failed to deploy ({@code io.vertx.launcher.application.ExitCodes}). */
  static final int DEPLOYMENT_FAILED = 15;

  static {
    // Before the first logger: the manager is chosen once, when java.util.logging is first used.
    if (System.getProperty(ShutdownLogManager.PROPERTY) == null) {
      System.setProperty(ShutdownLogManager.PROPERTY, ShutdownLogManager.class.getName());
    }
  }

  private static final Logger LOG = Logger.getLogger(ServiceLauncher.class.getName());

  private ServiceLauncher() {
  }

  public static void main(String[] args) {
    // Netty 4.2 reports every buffer allocation as a JFR event when JFR is available: the first buffer then starts
    // JFR's machinery, at start, for events nobody records. -Dio.netty.jfr.enabled=true turns it on.
    if (System.getProperty("io.netty.jfr.enabled") == null) {
      System.setProperty("io.netty.jfr.enabled", "false");
    }
    Attributes manifest = manifest();
    String verticle = args.length > 0 ? args[0] : manifest.getValue("Main-Verticle");
    if (verticle == null) {
      LOG.severe("no verticle to deploy: the jar's manifest has no Main-Verticle and no class name was given");
      System.exit(DEPLOYMENT_FAILED);
    }
    Env env = Env.system();
    VertxOptions options = new VertxOptions();
    // METRICS=off: no Micrometer at all (/metrics answers 404 METRICS_OFF): for measuring what metrics cost.
    // METRICS_PORT: the scrape on a port of its own as well (Kubernetes); 0 or unset: on the app's port only.
    if (!"off".equals(env.choice("METRICS", "on", "on", "off"))) {
      options.setMetricsOptions(Observability.metricsOptions((int) env.number("METRICS_PORT", 0, 0, 65535)));
    }
    VertxBuilder builder = Vertx.builder().with(options);
    // OTEL_SDK_DISABLED=true (OpenTelemetry's own switch): no tracer, no span, no traceparent sent on.
    OpenTelemetrySdk tracing = null;
    if (!"true".equals(env.choice("OTEL_SDK_DISABLED", "false", "false", "true"))) {
      String name = manifest.getValue("Service-Name");
      tracing = Observability.tracing(env, name != null ? name : "unknown_service:java");
      builder.withTracer(new OpenTelemetryTracingFactory(tracing));
    }
    Vertx vertx = builder.build();
    OpenTelemetrySdk tracer = tracing;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(vertx, tracer), "shutdown"));
    try {
      vertx.deployVerticle(verticle, new DeploymentOptions()).await(2, TimeUnit.MINUTES);
    } catch (Exception e) {
      LOG.log(Level.SEVERE, "Failed in deploying verticle " + verticle + ": " + e.getMessage(), e);
      System.exit(DEPLOYMENT_FAILED);
    }
    LOG.info(() -> "Succeeded in deploying verticle " + verticle);
    if ("true".equals(env.choice("TRAINING_RUN", "false", "false", "true"))) {
      train(vertx, env.port("APP_PORT", 8000));
    }
  }

  /** SIGTERM (and the end of a training run): Vert.x closes (each verticle stops), then the tracer flushes. */
  private static void stop(Vertx vertx, OpenTelemetrySdk tracing) {
    try {
      vertx.close().await(2, TimeUnit.MINUTES);
    } catch (TimeoutException e) {
      LOG.severe("Timed out waiting for Vert.x to be closed");
    } catch (Exception e) {
      LOG.log(Level.SEVERE, "Failure in stopping Vert.x: " + e.getMessage(), e);
    } finally {
      if (tracing != null) {
        tracing.close();
      }
    }
  }

  /**
   * {@code TRAINING_RUN=true}: once deployed, the service sends itself the requests of its jar's
   * {@value #TRAINING_REQUESTS} (each service lists its own routes: valid bodies that go through the jackson-databind
   * records, and refused ones that go through the translation of its exceptions), and stops (exit 0). This is the run
   * that records a class-data archive ({@code -XX:ArchiveClassesAtExit}, the images and scripts/run.sh): every class a
   * request needs, loaded once, is then mapped from the archive at every start instead of being read, verified and
   * linked again. Its sidecar need not be there: the failure paths are classes to archive too. Like Spring Boot's
   * {@code -Dspring.context.exit=onRefresh}, for the same purpose.
   */
  private static void train(Vertx vertx, int port) {
    HttpClient client = vertx.createHttpClient();
    Future<Void> done = Future.succeededFuture();
    for (TrainingRequest request : trainingRequests()) {
      done = done.compose(v -> client.request(HttpMethod.valueOf(request.method()), port, "127.0.0.1", request.path())
        .compose(r -> {
          if (request.headers() != null) {
            request.headers().forEach(r::putHeader);
          }
          return request.body() == null ? r.send() : r.putHeader("Content-Type", "application/json").send(request.body());
        })
        .compose(HttpClientResponse::body)
        .<Void>mapEmpty()
        .recover(failure -> Future.succeededFuture()));
    }
    done.onComplete(v -> vertx.close());
  }

  static final String TRAINING_REQUESTS = "/training-requests.json";

  /** One request of a training run: {@code {"method", "path", "body" (JSON text, optional), "headers" (optional)}}. */
  record TrainingRequest(String method, String path, String body, Map<String, String> headers) {
  }

  private static TrainingRequest[] trainingRequests() {
    try (InputStream in = ServiceLauncher.class.getResourceAsStream(TRAINING_REQUESTS)) {
      if (in == null) {
        LOG.warning("no " + TRAINING_REQUESTS + " in the jar: the training run sends only GET /health");
        return new TrainingRequest[] {new TrainingRequest("GET", "/health", null, null)};
      }
      return JsonBinding.MAPPER.readValue(in, TrainingRequest[].class);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + TRAINING_REQUESTS + ": " + e.getMessage(), e);
    }
  }

  /** The jar's manifest: {@code Main-Verticle}, and {@code Service-Name} (its final name: todo-api, notification-service). */
  private static Attributes manifest() {
    try (InputStream in = ServiceLauncher.class.getResourceAsStream("/META-INF/MANIFEST.MF")) {
      return in == null ? new Attributes() : new Manifest(in).getMainAttributes();
    } catch (IOException e) {
      return new Attributes();
    }
  }
}
