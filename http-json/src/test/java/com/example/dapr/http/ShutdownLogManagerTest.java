package com.example.dapr.http;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A verticle's stop, run by the launcher's shutdown hook on SIGTERM, still has its log lines written. */
class ShutdownLogManagerTest {

  /** Deployed in a JVM of its own; logs while it stops, as TodoVerticle's drain does. */
  public static class LogsWhileStopping extends VerticleBase {
    @Override
    public Future<?> stop() {
      Logger.getLogger(LogsWhileStopping.class.getName()).info("stopping: the line of a graceful stop");
      return vertx.timer(50).onComplete(t -> Logger.getLogger(LogsWhileStopping.class.getName())
        .info("stopped: after the drain"));
    }
  }

  @Test
  void theLinesLoggedWhileTheVerticleStopsOnSigtermAreWritten() throws Exception {
    Path log = Files.createTempFile("launcher", ".log");
    Process jvm = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
      "-cp", System.getProperty("java.class.path"), ServiceLauncher.class.getName(), LogsWhileStopping.class.getName())
      .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(log).contains("Succeeded in deploying verticle")) {
        assertTrue(jvm.isAlive() && System.nanoTime() < deadline, () -> "not deployed: " + read(log));
        Thread.sleep(20);
      }
      jvm.destroy(); // SIGTERM
      assertTrue(jvm.waitFor(60, TimeUnit.SECONDS), "the JVM exits after SIGTERM");
      String written = Files.readString(log);
      assertTrue(written.contains("stopping: the line of a graceful stop"), written);
      assertTrue(written.contains("stopped: after the drain"), written);
    } finally {
      jvm.destroyForcibly();
      Files.deleteIfExists(log);
    }
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }
}
