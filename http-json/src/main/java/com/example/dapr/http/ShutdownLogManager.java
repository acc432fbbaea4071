package com.example.dapr.http;

import java.util.logging.LogManager;

/**
 * java.util.logging's manager, except that it keeps its handlers while the JVM shuts down. JUL's own shutdown hook
 * ({@code LogManager$Cleaner}) resets every handler as soon as the JVM begins to exit, while the {@link ServiceLauncher}'s
 * hook is still closing Vert.x: every line of the verticles' graceful stop ("stopping: readiness is DOWN", "stopped:
 * every request answered") was dropped. The handlers here write to stderr and flush each record, so there is nothing
 * the reset would need to close. Any other reset (a configuration being read) happens as usual.
 */
public final class ShutdownLogManager extends LogManager {

  /** Set as {@code java.util.logging.manager} before anything logs ({@link ServiceLauncher}). */
  static final String PROPERTY = "java.util.logging.manager";

  @Override
  public void reset() {
    if (!Thread.currentThread().getClass().getName().equals(LogManager.class.getName() + "$Cleaner")) {
      super.reset();
    }
  }
}
