package com.example.dapr.http;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/**
 * One human-readable line a record: time, level, logger, and, while a request is handled, its ids ({@link TraceIds})
 * under the names the JSON lines give them, then the message and any stack trace:
 * <pre>
 * 2026-12-01T10:00:00.123+0000 INFO    [com.example.dapr.todo.TaskHandlers] [trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 task_id=6f1c…] created
 * </pre>
 * Named rather than positional like Spring Boot's {@code [traceId,spanId]}: the task id is there only when the request
 * is about a task, and {@code grep trace_id=<id from Zipkin>} or {@code grep task_id=<id>} finds the same lines in
 * either format.
 */
public final class TextLogFormatter extends Formatter {

  private static final String FORMAT = "%1$tFT%1$tT.%1$tL%1$tz %2$-7s [%3$s] %4$s%5$s%6$s%n";

  @Override
  public String format(LogRecord record) {
    TraceIds ids = TraceIds.current();
    String segment = ids == null ? "" : "[trace_id=" + ids.traceId() + " span_id=" + ids.spanId()
      + (ids.taskId() == null ? "" : " task_id=" + ids.taskId()) + "] ";
    String thrown = "";
    if (record.getThrown() != null) {
      StringWriter trace = new StringWriter();
      PrintWriter out = new PrintWriter(trace);
      out.println();
      record.getThrown().printStackTrace(out);
      out.close();
      thrown = trace.toString();
    }
    return String.format(FORMAT, ZonedDateTime.ofInstant(record.getInstant(), ZoneId.systemDefault()),
      record.getLevel().getLocalizedName(), record.getLoggerName(), segment, formatMessage(record), thrown);
  }
}
