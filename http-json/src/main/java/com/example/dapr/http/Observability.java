package com.example.dapr.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.zipkin.ZipkinSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingResult;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.RoutingContext;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.PrometheusScrapingHandler;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.micrometer.backends.BackendRegistries;
import zipkin2.reporter.urlconnection.URLConnectionSender;

import java.util.List;
import java.util.Set;

/**
 * Tracing and metrics, the same for both services, from what Vert.x ships: {@code vertx-opentelemetry} (a span per
 * HTTP request served and per WebClient call, W3C {@code traceparent} continued from the caller and sent on to the
 * sidecar) and {@code vertx-micrometer-metrics} (Prometheus's format on the service's own {@code /metrics}).
 * <ul>
 *   <li>{@code OTEL_EXPORTER_ZIPKIN_ENDPOINT}: where spans go (e.g. {@code http://127.0.0.1:9411/api/v2/spans}); unset,
 *   spans are made and propagated (logs still carry trace ids) but not exported.</li>
 *   <li>{@code OTEL_TRACES_SAMPLER_ARG}: the share of new traces sampled, 0 to 1 (default 1); a caller's decision in
 *   {@code traceparent} is followed.</li>
 *   <li>{@code OTEL_SERVICE_NAME}: the service's name in the trace backend (default: the jar's {@code Service-Name}).</li>
 *   <li>{@code OTEL_SDK_DISABLED=true}: no tracing at all; {@code METRICS=off}: no metrics (ServiceLauncher).</li>
 * </ul>
 * Probes and scrapes ({@code /health*}, {@code /metrics}) start no trace.
 */
public final class Observability {

  public static final String METRICS_PATH = "/metrics";
  private static final Set<String> UNTRACED = Set.of("/health", "/health/live", "/health/ready", METRICS_PATH);
  private static final AttributeKey<String> URL_PATH = AttributeKey.stringKey("url.path");

  private Observability() {
  }

  /**
   * Micrometer, scraped in Prometheus's format. Labels: method, status code, route (the route's template, so
   * {@code /tasks/:id} stays one series), and the client's name (each WebClient names its target); never the path.
   */
  public static MicrometerMetricsOptions metricsOptions() {
    return metricsOptions(0);
  }

  /**
   * As {@link #metricsOptions()}, and with {@code metricsPort} above 0 the same registry is also served at
   * {@code /metrics} on a port of its own (vertx-micrometer's embedded server): a port for scrapers alone, which a
   * NetworkPolicy can open to the monitoring namespace without opening the app's API port to it. On Kubernetes,
   * {@code METRICS_PORT} (manifests/base: 9464, the pods' {@code prometheus.io/port}).
   */
  public static MicrometerMetricsOptions metricsOptions(int metricsPort) {
    VertxPrometheusOptions prometheus = new VertxPrometheusOptions().setEnabled(true)
      // Histogram buckets for the timings, so that Prometheus computes percentiles (histogram_quantile) per route.
      .setPublishQuantiles(true);
    if (metricsPort > 0) {
      prometheus.setStartEmbeddedServer(true)
        .setEmbeddedServerOptions(new HttpServerOptions().setHost("0.0.0.0").setPort(metricsPort))
        .setEmbeddedServerEndpoint("/metrics");
    }
    return new MicrometerMetricsOptions()
      .setEnabled(true)
      .setJvmMetricsEnabled(true)
      .setPrometheusOptions(prometheus)
      .addLabels(Label.HTTP_METHOD, Label.HTTP_CODE, Label.HTTP_ROUTE, Label.CLIENT_NAME);
  }

  /** {@code GET /metrics}: the Prometheus scrape of this process's registry; 404 when metrics are off. */
  public static Handler<RoutingContext> metricsHandler() {
    if (BackendRegistries.getDefaultNow() == null) {
      return ctx -> ctx.fail(new ApiException(404, "METRICS_OFF", "this process runs without metrics (METRICS=off)"));
    }
    return PrometheusScrapingHandler.create();
  }

  /**
   * A first handler for every route: once the request is routed, its span is named {@code <METHOD> <route template>}
   * ({@code POST /tasks}, {@code GET /tasks/:id}) instead of the bare method, as OpenTelemetry's HTTP conventions
   * name server spans.
   */
  public static void nameSpansByRoute(RoutingContext ctx) {
    Span span = Span.current();
    if (span.getSpanContext().isValid()) {
      ctx.addHeadersEndHandler(v -> {
        var route = ctx.currentRoute();
        String template = route == null ? null : route.getPath();
        if (template != null) {
          span.updateName(ctx.request().method().name() + " " + template);
          span.setAttribute("http.route", template);
        }
      });
    }
    ctx.next();
  }

  /** The registry Vert.x's metrics write to; without metrics (unit tests), one that keeps nothing. */
  public static MeterRegistry registry() {
    MeterRegistry registry = BackendRegistries.getDefaultNow();
    return registry != null ? registry : new CompositeMeterRegistry();
  }

  /** The tracing SDK of {@code env} (see the class comment), exporting to {@code exporter} when it is not null. */
  public static OpenTelemetrySdk tracing(Env env, String defaultServiceName) {
    String endpoint = env.string("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "");
    SpanExporter exporter = endpoint.isEmpty() ? null
      : ZipkinSpanExporter.builder().setSender(URLConnectionSender.create(endpoint)).build();
    return tracing(env, defaultServiceName, exporter);
  }

  /** The same, with an exporter of the caller's (tests: an in-memory one). */
  public static OpenTelemetrySdk tracing(Env env, String defaultServiceName, SpanExporter exporter) {
    String service = env.string("OTEL_SERVICE_NAME", defaultServiceName);
    double ratio = env.decimal("OTEL_TRACES_SAMPLER_ARG", 1.0, 0.0, 1.0);
    var provider = SdkTracerProvider.builder()
      .setResource(Resource.getDefault().merge(Resource.create(
        Attributes.of(AttributeKey.stringKey("service.name"), service))))
      .setSampler(Sampler.parentBased(new SkipProbes(Sampler.traceIdRatioBased(ratio))));
    if (exporter != null) {
      provider.addSpanProcessor(BatchSpanProcessor.builder(exporter).build());
    }
    return OpenTelemetrySdk.builder()
      .setTracerProvider(provider.build())
      // The SDK's default propagator is a no-op: without this, nothing is read from or written to traceparent.
      .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
      .build();
  }

  /** The trace id of the request being handled (Vert.x keeps the span in the request's context), or null. */
  public static String traceId() {
    SpanContext context = Span.current().getSpanContext();
    return context.isValid() ? context.getTraceId() : null;
  }

  /** The W3C {@code traceparent} of the span being handled, or null outside a trace. */
  public static String traceparent() {
    SpanContext context = Span.current().getSpanContext();
    return context.isValid()
      ? "00-" + context.getTraceId() + "-" + context.getSpanId() + "-" + context.getTraceFlags().asHex() : null;
  }

  /** The span attribute naming the task a request is about; JSON log lines show it as {@code task_id}. */
  public static final AttributeKey<String> TASK_ID = AttributeKey.stringKey("task.id");

  /** Puts {@link #TASK_ID} on the span being handled. */
  public static void tagTask(String taskId) {
    Span.current().setAttribute(TASK_ID, taskId);
  }

  /** Starts no trace for a probe or a scrape; everything else goes to {@code delegate}. */
  private record SkipProbes(Sampler delegate) implements Sampler {
    @Override
    public SamplingResult shouldSample(Context parent, String traceId, String name, SpanKind kind,
                                       Attributes attributes, List<LinkData> links) {
      String path = attributes.get(URL_PATH);
      return path != null && UNTRACED.contains(path) ? SamplingResult.drop()
        : delegate.shouldSample(parent, traceId, name, kind, attributes, links);
    }

    @Override
    public String getDescription() {
      return "SkipProbes{" + delegate.getDescription() + "}";
    }
  }
}
