package com.example.dapr.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.logging.LogManager;

/**
 * One-line log records for java.util.logging, unless the user points at a logging configuration of their own:
 * human-readable text ({@link TextLogFormatter}), or JSON lines ({@link JsonLogFormatter}) when {@code LOG_FORMAT=json}
 * (the images set it); both with the request's trace and span ids.
 */
public final class Logging {

  private static boolean configured;

  private Logging() {
  }

  public static synchronized void configure() {
    if (configured || System.getProperty("java.util.logging.config.file") != null
      || System.getProperty("java.util.logging.config.class") != null) {
      return;
    }
    configured = true;
    try (InputStream in = Logging.class.getResourceAsStream("/service-logging.properties")) {
      if (in != null) {
        LogManager.getLogManager().readConfiguration(in);
      }
      boolean json = "json".equals(Env.system().choice("LOG_FORMAT", "text", "text", "json"));
      for (var handler : java.util.logging.Logger.getLogger("").getHandlers()) {
        handler.setFormatter(json ? new JsonLogFormatter() : new TextLogFormatter());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read service-logging.properties", e);
    }
  }
}
