package com.example.dapr.http;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextLogFormatterTest {

  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String CALLER_SPAN_ID = "00f067aa0ba902b7";

  private final TextLogFormatter text = new TextLogFormatter();

  private static LogRecord record(String message, Throwable thrown) {
    LogRecord record = new LogRecord(Level.WARNING, message);
    record.setLoggerName("com.example.Test");
    record.setInstant(Instant.parse("2026-12-01T10:00:00.123Z"));
    record.setThrown(thrown);
    return record;
  }

  @Test
  void outsideATraceALineIsTimeLevelLoggerAndMessage() {
    String line = text.format(record("plain", null));
    assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.123[+-]\\d{4} WARNING \\[com\\.example\\.Test] plain"
      + System.lineSeparator()), line);
  }

  @Test
  void insideASpanTheLineCarriesTheSameIdsAsTheJsonLine() {
    try (OpenTelemetrySdk sdk = Observability.tracing(new Env(Map.of()), "test", InMemorySpanExporter.create())) {
      Span span = sdk.getTracer("test").spanBuilder("POST /tasks").startSpan();
      try (Scope ignored = span.makeCurrent()) {
        String traceId = span.getSpanContext().getTraceId();
        String spanId = span.getSpanContext().getSpanId();
        assertTrue(text.format(record("no task yet", null)).contains(
          " [com.example.Test] [trace_id=" + traceId + " span_id=" + spanId + "] no task yet"), "without task_id");
        Observability.tagTask("task-42");
        String line = text.format(record("Todo created", null));
        assertTrue(line.contains(" [com.example.Test] [trace_id=" + traceId + " span_id=" + spanId
          + " task_id=task-42] Todo created"), line);
        JsonObject json = new JsonObject(new JsonLogFormatter().format(record("Todo created", null)));
        assertEquals(traceId, json.getString("trace_id"));
        assertEquals(spanId, json.getString("span_id"));
        assertEquals("task-42", json.getString("task_id"));
      } finally {
        span.end();
      }
    }
  }

  @Test
  void theServicesConsoleWritesTextLinesUnlessLogFormatIsJson() {
    Logging.configure();
    boolean json = "json".equalsIgnoreCase(System.getenv("LOG_FORMAT"));
    for (var handler : Logger.getLogger("").getHandlers()) {
      assertEquals(json ? JsonLogFormatter.class : TextLogFormatter.class, handler.getFormatter().getClass());
    }
    assertTrue(Logger.getLogger("").getHandlers().length > 0, "the console handler");
  }

  @Test
  void aStackTraceFollowsTheMessage() {
    String line = text.format(record("failed", new IllegalStateException("boom")));
    assertTrue(line.contains("] failed" + System.lineSeparator() + "java.lang.IllegalStateException: boom"), line);
  }

  /**
   * Through Vert.x's OpenTelemetry support, as ServiceLauncher runs the services: a line logged while a request is
   * handled carries the caller's trace id and the id of the server span (not the caller's), and a line logged on a
   * timer, outside any request, carries none.
   */
  @Test
  void aLineLoggedInsideATracedRequestCarriesItsIdsAndALineOutsideNone() throws Exception {
    InMemorySpanExporter spans = InMemorySpanExporter.create();
    OpenTelemetrySdk tracing = Observability.tracing(new Env(Map.of()), "test", spans);
    Vertx vertx = Vertx.builder().withTracer(new OpenTelemetryTracingFactory(tracing)).build();
    Logger logger = Logger.getLogger("com.example.dapr.http.TextLogFormatterTest.request");
    List<String> lines = new CopyOnWriteArrayList<>();
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord record) {
        lines.add(text.format(record));
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    };
    logger.addHandler(capture);
    try {
      int port = vertx.createHttpServer().requestHandler(request -> {
        logger.info("inside the request");
        request.response().end();
      }).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
      assertEquals(200, WebClient.create(vertx).get(port, "127.0.0.1", "/traced")
        .putHeader("traceparent", "00-" + TRACE_ID + "-" + CALLER_SPAN_ID + "-01").send()
        .await(10, TimeUnit.SECONDS).statusCode());
      vertx.timer(1).onSuccess(t -> logger.info("outside any request")).await(10, TimeUnit.SECONDS);

      SpanData server = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (server == null && System.nanoTime() < deadline) {
        tracing.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS);
        server = spans.getFinishedSpanItems().stream().filter(s -> s.getKind() == SpanKind.SERVER).findFirst()
          .orElse(null);
        if (server == null) {
          Thread.sleep(20);
        }
      }
      assertNotNull(server, "the server span of GET /traced");
      assertNotEquals(CALLER_SPAN_ID, server.getSpanId());
      String inside = lines.stream().filter(l -> l.contains("inside the request")).findFirst().orElseThrow();
      assertTrue(inside.contains("[trace_id=" + TRACE_ID + " span_id=" + server.getSpanId() + "] inside the request"),
        inside);
      String outside = lines.stream().filter(l -> l.contains("outside any request")).findFirst().orElseThrow();
      assertFalse(outside.contains("trace_id"), outside);
    } finally {
      logger.removeHandler(capture);
      vertx.close().await(10, TimeUnit.SECONDS);
      tracing.close();
    }
  }
}
