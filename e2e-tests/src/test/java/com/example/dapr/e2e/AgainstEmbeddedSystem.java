package com.example.dapr.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * A test class that runs against one embedded system of its own (see {@link EmbeddedSystem}), started before its
 * first test and stopped after its last, with a loopback {@link Http} client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AgainstEmbeddedSystem {

  private final String name;
  private final int portOffset;
  private final String[] runArgs;
  private final java.util.Map<String, String> env;
  protected EmbeddedSystem system;
  protected Http http;

  /** {@code name} names the run folder under target/e2e; {@code runArgs} are scripts/run.sh's flags. */
  protected AgainstEmbeddedSystem(String name, int portOffset, String... runArgs) {
    this(name, portOffset, java.util.Map.of(), runArgs);
  }

  /** As above, with environment variables for scripts/run.sh, such as NOTIFICATION_ENV. */
  protected AgainstEmbeddedSystem(String name, int portOffset, java.util.Map<String, String> env, String... runArgs) {
    this.name = name;
    this.portOffset = portOffset;
    this.runArgs = runArgs;
    this.env = env;
  }

  @BeforeAll
  void startSystem() throws Exception {
    system = EmbeddedSystem.start(name, portOffset, env, runArgs);
    http = new Http().authorize(system::tokenFor);
  }

  @AfterAll
  void stopSystem() throws Exception {
    if (http != null) {
      http.close();
    }
    if (system != null) {
      system.close();
    }
  }
}
