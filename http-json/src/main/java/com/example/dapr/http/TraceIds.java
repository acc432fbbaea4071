package com.example.dapr.http;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.trace.ReadableSpan;

/**
 * The ids a log line carries while a request is handled: the trace and span ids of its span (the same as in the trace
 * backend) and the task it is about ({@link Observability#TASK_ID}, see {@link Observability#tagTask}), null when the
 * span has none. Both log formats take them from here ({@link TextLogFormatter}, {@link JsonLogFormatter}).
 */
public record TraceIds(String traceId, String spanId, String taskId) {

  /**
   * The ids of the span current on this thread, or null outside a trace. JUL formats on the thread that logs, and
   * Vert.x keeps a request's span in the request's context, so the span is the request's.
   */
  public static TraceIds current() {
    Span span = Span.current();
    SpanContext context = span.getSpanContext();
    if (!context.isValid()) {
      return null;
    }
    String taskId = span instanceof ReadableSpan readable ? readable.getAttribute(Observability.TASK_ID) : null;
    return new TraceIds(context.getTraceId(), context.getSpanId(), taskId);
  }
}
