package com.example.dapr.http;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.vertx.core.json.JsonObject;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/**
 * One JSON object a line: {@code time}, {@code level}, {@code logger}, {@code message}, and, when the record is
 * written while a request is handled, {@code trace_id} and {@code span_id} of its span (the same ids as in the trace
 * backend) and {@code task_id} (the span's {@link Observability#TASK_ID}, see {@link Observability#tagTask}); {@code error} holds a stack
 * trace. JUL formats on the thread that logs, so the span is the request's.
 */
public final class JsonLogFormatter extends Formatter {

  @Override
  public String format(LogRecord record) {
    JsonObject line = new JsonObject()
      .put("time", Instant.ofEpochMilli(record.getMillis()).toString())
      .put("level", record.getLevel().getName())
      .put("logger", record.getLoggerName())
      .put("message", formatMessage(record));
    Span span = Span.current();
    SpanContext context = span.getSpanContext();
    if (context.isValid()) {
      line.put("trace_id", context.getTraceId()).put("span_id", context.getSpanId());
      if (span instanceof ReadableSpan readable) {
        String taskId = readable.getAttribute(Observability.TASK_ID);
        if (taskId != null) {
          line.put("task_id", taskId);
        }
      }
    }
    if (record.getThrown() != null) {
      StringWriter trace = new StringWriter();
      record.getThrown().printStackTrace(new PrintWriter(trace));
      line.put("error", trace.toString());
    }
    return line.encode() + System.lineSeparator();
  }
}
