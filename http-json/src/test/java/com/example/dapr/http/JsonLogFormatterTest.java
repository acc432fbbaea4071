package com.example.dapr.http;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonLogFormatterTest {

  private final JsonLogFormatter formatter = new JsonLogFormatter();

  private static LogRecord record(String message, Throwable thrown) {
    LogRecord record = new LogRecord(Level.WARNING, message);
    record.setLoggerName("com.example.Test");
    record.setInstant(java.time.Instant.parse("2026-12-01T10:00:00.123Z"));
    record.setThrown(thrown);
    return record;
  }

  @Test
  void outsideATraceALineHasTimeLevelLoggerAndMessageOnly() {
    String line = formatter.format(record("plain", null));
    assertTrue(line.endsWith(System.lineSeparator()) && line.indexOf('\n') == line.length() - 1, "one line: " + line);
    assertEquals(new JsonObject().put("time", "2026-12-01T10:00:00.123Z").put("level", "WARNING")
      .put("logger", "com.example.Test").put("message", "plain"), new JsonObject(line));
  }

  @Test
  void insideASpanTheLineCarriesItsTraceAndSpanIdsAndTheTaskId() {
    try (OpenTelemetrySdk sdk = Observability.tracing(new Env(Map.of()), "test", InMemorySpanExporter.create())) {
      Span span = sdk.getTracer("test").spanBuilder("POST /tasks").startSpan();
      try (Scope ignored = span.makeCurrent()) {
        Observability.tagTask("task-42");
        JsonObject line = new JsonObject(formatter.format(record("Todo created", null)));
        assertEquals(span.getSpanContext().getTraceId(), line.getString("trace_id"));
        assertEquals(span.getSpanContext().getSpanId(), line.getString("span_id"));
        assertEquals("task-42", line.getString("task_id"));
        assertEquals(span.getSpanContext().getTraceId(), Observability.traceId());
        assertEquals("00-" + span.getSpanContext().getTraceId() + "-" + span.getSpanContext().getSpanId() + "-01",
          Observability.traceparent());
      } finally {
        span.end();
      }
    }
  }

  @Test
  void anErrorKeepsItsStackTraceInsideTheOneLine() {
    String line = formatter.format(record("failed", new IllegalStateException("boom")));
    JsonObject json = new JsonObject(line);
    assertTrue(json.getString("error").startsWith("java.lang.IllegalStateException: boom"), json.getString("error"));
    assertFalse(line.substring(0, line.length() - 1).contains("\n"), "the stack trace is escaped, not new lines");
  }

  @Test
  void aNewTraceIsSampledAtTheConfiguredRatioAndProbesNever() {
    try (OpenTelemetrySdk none = Observability.tracing(new Env(Map.of("OTEL_TRACES_SAMPLER_ARG", "0")), "t", null);
         OpenTelemetrySdk all = Observability.tracing(new Env(Map.of()), "t", null)) {
      assertFalse(none.getTracer("t").spanBuilder("x").startSpan().getSpanContext().isSampled());
      assertTrue(all.getTracer("t").spanBuilder("x").startSpan().getSpanContext().isSampled());
      assertFalse(all.getTracer("t").spanBuilder("GET").setAttribute("url.path", "/health/ready").startSpan()
        .getSpanContext().isSampled(), "a probe starts no trace");
    }
  }
}
