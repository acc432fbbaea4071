package com.example.dapr.e2e;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Dapr's SQLite name resolver deletes the live rows at its first cleanup, one {@code cleanupInterval} (default 1 h)
 * after start, and every sidecar then exits with "Host registration lost" (dapr/dapr#8507). These tests run the
 * project's own {@code dapr/config.yaml} with time compressed: any cleanup it leaves on is shortened to 2 s, so what
 * would happen after an hour happens in seconds. Two bare sidecars (no app) share one resolver database, as in the
 * embedded run.
 */
class NameResolutionE2E {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  private static final Path WORK = Path.of(System.getProperty("e2e.work", "target/e2e")).toAbsolutePath();
  private static final Pattern CLEANUP = Pattern.compile("(?m)^(\\s*)cleanupInterval:\\s*(\\S+)\\s*$");
  private static final Pattern RESOLVER_CONFIGURATION = Pattern.compile("(?m)^(\\s*)connectionString:.*$");
  /** Sidecar k of a pair listens on BASE_PORT + 5 k .. + 3, the second pair 10 above (scripts/test-systems.txt). */
  private static final int BASE_PORT = TestSystems.otherPorts("name-resolution").get(0);
  /** Cleanup every 2 s plus the 2 s registration refresh: three rounds of both are well past the first cleanup. */
  private static final long WATCH_MS = 12_000;
  /** How long the control may take to show the bug: a limit only reached if the sidecars never exit. */
  private static final long EXIT_LIMIT_MS = 120_000;

  /** {@code config} as it would behave after {@code cleanupInterval}, sped up: a cleanup left on runs every 2 s. */
  static String compressed(String config) {
    Matcher cleanup = CLEANUP.matcher(config);
    if (cleanup.find()) {
      String value = cleanup.group(2).replace("\"", "").replace("'", "");
      return value.matches("0+[a-z]*") ? config : cleanup.replaceFirst("$1cleanupInterval: 2s");
    }
    // Not set: the resolver's default (1 h) applies, which is as much "on" as any other value.
    Matcher anchor = RESOLVER_CONFIGURATION.matcher(config);
    if (!anchor.find()) {
      throw new IllegalStateException("dapr/config.yaml has no SQLite resolver configuration (connectionString)");
    }
    return anchor.replaceFirst(Matcher.quoteReplacement(anchor.group(0)) + "\n" + anchor.group(1)
      + "cleanupInterval: 2s");
  }

  @Test
  void theShippedConfigurationKeepsEverySidecarRegisteredPastTheResolversCleanup() throws Exception {
    String shipped = Files.readString(ROOT.resolve("dapr/config.yaml"));
    try (Pair pair = Pair.start("shipped", compressed(shipped), 0)) {
      pair.watch(WATCH_MS);
      for (int k = 0; k < 2; k++) {
        assertTrue(pair.alive(k), "sidecar " + k + " exited:\n" + EmbeddedSystem.tail(pair.log(k), 15));
        assertFalse(Files.readString(pair.log(k)).contains("Host registration lost"), pair.log(k).toString());
      }
      // Still resolvable: through sidecar 0, app nr-1 is found and reached (it has no app, hence the app channel).
      String answer = pair.invokeThroughFirst("nr-1");
      assertTrue(answer.contains("app channel is not initialized"), "nr-1 resolved and reached: " + answer);
    }
  }

  /** The control: the same file with the cleanup on, as Dapr's default has it, kills both sidecars in seconds. */
  @Test
  void withTheCleanupOnEverySidecarExitsHostRegistrationLost() throws Exception {
    String shipped = Files.readString(ROOT.resolve("dapr/config.yaml"));
    String cleanupOn = CLEANUP.matcher(shipped).find()
      ? CLEANUP.matcher(shipped).replaceFirst("$1cleanupInterval: 2s") : compressed(shipped);
    try (Pair pair = Pair.start("cleanup-on", cleanupOn, 10)) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(EXIT_LIMIT_MS);
      while ((pair.alive(0) || pair.alive(1)) && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      for (int k = 0; k < 2; k++) {
        assertFalse(pair.alive(k), "with the cleanup on, sidecar " + k + " did not exit in " + EXIT_LIMIT_MS / 1000 + " s");
        assertTrue(Files.readString(pair.log(k)).contains("Host registration lost"),
          EmbeddedSystem.tail(pair.log(k), 10));
      }
    }
  }

  /** Two daprd, app ids nr-0 and nr-1, sharing a resolver database in a folder of their own. */
  private static final class Pair implements AutoCloseable {
    private final Path dir;
    private final int basePort;
    private final List<Process> processes = new ArrayList<>();

    private Pair(Path dir, int basePort) {
      this.dir = dir;
      this.basePort = basePort;
    }

    static Pair start(String name, String config, int portShift) throws Exception {
      Path dir = WORK.resolve("name-resolution-" + name);
      if (Files.exists(dir)) {
        try (var files = Files.walk(dir)) {
          files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
      }
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("config.yaml"), config);
      Pair pair = new Pair(dir, BASE_PORT + portShift);
      String daprd = daprd();
      for (int k = 0; k < 2; k++) {
        int p = pair.basePort + 5 * k;
        ProcessBuilder builder = new ProcessBuilder(daprd, "--app-id", "nr-" + k,
          "--dapr-http-port", String.valueOf(p), "--dapr-grpc-port", String.valueOf(p + 1),
          "--dapr-internal-grpc-port", String.valueOf(p + 2), "--metrics-port", String.valueOf(p + 3),
          "--dapr-listen-addresses", "127.0.0.1", "--config", dir.resolve("config.yaml").toString())
          .directory(dir.toFile()).redirectErrorStream(true)
          .redirectOutput(dir.resolve("daprd-" + k + ".log").toFile());
        builder.environment().put("DAPR_HOST_IP", "127.0.0.1");
        pair.processes.add(builder.start());
      }
      for (int k = 0; k < 2; k++) {
        pair.awaitHealthy(k);
      }
      return pair;
    }

    private static String daprd() throws Exception {
      Process setup = new ProcessBuilder("bash", ROOT.resolve("scripts/setup-daprd.sh").toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String out = new String(setup.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!setup.waitFor(15, TimeUnit.MINUTES) || setup.exitValue() != 0) {
        fail("scripts/setup-daprd.sh failed");
      }
      return out.substring(out.lastIndexOf('\n') + 1);
    }

    Path log(int k) {
      return dir.resolve("daprd-" + k + ".log");
    }

    boolean alive(int k) {
      return processes.get(k).isAlive();
    }

    void watch(long ms) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
      while (System.nanoTime() < deadline && alive(0) && alive(1)) {
        Thread.sleep(200);
      }
    }

    private void awaitHealthy(int k) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline) {
        if (!alive(k)) {
          fail("daprd nr-" + k + " exited at start:\n" + EmbeddedSystem.tail(log(k), 20));
        }
        try {
          if (get(basePort + 5 * k, "/v1.0/healthz").statusCode() == 204) {
            return;
          }
        } catch (java.io.IOException notYet) {
          // starting
        }
        Thread.sleep(100);
      }
      fail("daprd nr-" + k + " not healthy within 30 s:\n" + EmbeddedSystem.tail(log(k), 20));
    }

    String invokeThroughFirst(String appId) throws Exception {
      return get(basePort, "/v1.0/invoke/" + appId + "/method/health").body();
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
      return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() throws Exception {
      for (Process process : processes) {
        process.destroy();
      }
      for (Process process : processes) {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      }
    }
  }
}
