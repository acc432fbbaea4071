package com.example.dapr.http;

import io.vertx.core.json.JsonObject;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/**
 * One JSON object a line: {@code time}, {@code level}, {@code logger}, {@code message}, and, when the record is
 * written while a request is handled, {@code trace_id}, {@code span_id} and {@code task_id} ({@link TraceIds});
 * {@code error} holds a stack trace.
 */
public final class JsonLogFormatter extends Formatter {

  @Override
  public String format(LogRecord record) {
    JsonObject line = new JsonObject()
      .put("time", Instant.ofEpochMilli(record.getMillis()).toString())
      .put("level", record.getLevel().getName())
      .put("logger", record.getLoggerName())
      .put("message", formatMessage(record));
    TraceIds ids = TraceIds.current();
    if (ids != null) {
      line.put("trace_id", ids.traceId()).put("span_id", ids.spanId());
      if (ids.taskId() != null) {
        line.put("task_id", ids.taskId());
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
