package com.example.dapr.http;

import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.launcher.application.HookContext;
import io.vertx.launcher.application.VertxApplication;
import io.vertx.launcher.application.VertxApplicationHooks;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.jar.Manifest;

/**
 * The services' main class: Vert.x's own launcher ({@code Main-Verticle} from the jar's manifest, the same command
 * line), with its hooks turning on metrics ({@link Observability#metricsOptions}) and tracing (an OpenTelemetry SDK
 * from {@code OTEL_*}, see {@link Observability}), closed, and its last spans flushed, when Vert.x stops.
 */
public final class ServiceLauncher extends VertxApplication implements VertxApplicationHooks {

  private OpenTelemetrySdk tracing;

  private ServiceLauncher(String[] args) {
    super(args);
  }

  public static void main(String[] args) {
    int exit = new ServiceLauncher(args).launch();
    if (exit != 0) {
      System.exit(exit);
    }
  }

  @Override
  public void beforeStartingVertx(HookContext context) {
    // METRICS=off: no Micrometer at all (/metrics answers 404 METRICS_OFF): for measuring what metrics cost.
    // METRICS_PORT: the scrape on a port of its own as well (Kubernetes); 0 or unset: on the app's port only.
    if (!"off".equals(Env.system().choice("METRICS", "on", "on", "off"))) {
      int metricsPort = (int) Env.system().number("METRICS_PORT", 0, 0, 65535);
      context.vertxOptions().setMetricsOptions(Observability.metricsOptions(metricsPort));
    }
  }

  @Override
  public VertxBuilder createVertxBuilder(VertxOptions options) {
    VertxBuilder builder = Vertx.builder().with(options);
    // OTEL_SDK_DISABLED=true (OpenTelemetry's own switch): no tracer, no span, no traceparent sent on.
    if ("true".equals(Env.system().choice("OTEL_SDK_DISABLED", "false", "false", "true"))) {
      return builder;
    }
    tracing = Observability.tracing(Env.system(), serviceName());
    return builder.withTracer(new OpenTelemetryTracingFactory(tracing));
  }

  /**
   * {@code TRAINING_RUN=true}: once deployed, the service sends each route it serves one request, from itself, and
   * stops (exit 0). This is the run that records a class-data archive ({@code -XX:ArchiveClassesAtExit}, the images
   * and scripts/run.sh): every class a request needs, loaded once, is then mapped from the archive at every start
   * instead of being read, verified and linked again. Its sidecar need not be there: the failure paths are classes to
   * archive too. Like Spring Boot's {@code -Dspring.context.exit=onRefresh}, for the same purpose.
   */
  @Override
  public void afterVerticleDeployed(HookContext context) {
    if (!"true".equals(Env.system().choice("TRAINING_RUN", "false", "false", "true"))) {
      return;
    }
    Vertx vertx = context.vertx();
    int port = Env.system().port("APP_PORT", 8000);
    HttpClient client = vertx.createHttpClient();
    String body = "{\"title\":\"training\",\"message\":\"training\",\"task_id\":\"00000000-0000-4000-8000-000000000000\"}";
    String[][] requests = {{"GET", "/health/live"}, {"GET", "/health/ready"}, {"GET", "/health"}, {"GET", "/metrics"},
      {"POST", "/tasks"}, {"GET", "/tasks/00000000-0000-4000-8000-000000000000"}, {"POST", "/notify"},
      {"POST", "/tasks"}, {"POST", "/notify"}};
    Future<Void> done = Future.succeededFuture();
    for (String[] request : requests) {
      done = done.compose(v -> client.request(HttpMethod.valueOf(request[0]), port, "127.0.0.1",
          request[1])
        .compose(r -> r.putHeader("Content-Type", "application/json").send(body))
        .compose(HttpClientResponse::body)
        .<Void>mapEmpty()
        .recover(failure -> Future.succeededFuture()));
    }
    done.onComplete(v -> vertx.close());
  }

  @Override
  public void afterVertxStopped(HookContext context) {
    if (tracing != null) {
      tracing.close();
    }
  }

  /** The {@code Service-Name} of the jar's manifest (its final name: todo-api, notification-service). */
  private static String serviceName() {
    try (InputStream in = ServiceLauncher.class.getResourceAsStream("/META-INF/MANIFEST.MF")) {
      String name = in == null ? null : new Manifest(in).getMainAttributes().getValue("Service-Name");
      return name != null ? name : "unknown_service:java";
    } catch (IOException e) {
      return "unknown_service:java";
    }
  }
}
