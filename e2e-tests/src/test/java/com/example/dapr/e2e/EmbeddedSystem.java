package com.example.dapr.e2e;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The embedded system as the README starts it ({@code scripts/run.sh --detach}), in a run folder of its own under
 * {@code target/} and on ports shifted by {@code PORT_OFFSET}, so it never meets a system a user has running. It can
 * kill a process and start it again with the very command line and environment it had.
 */
final class EmbeddedSystem implements AutoCloseable {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  private static final Path WORK = Path.of(System.getProperty("e2e.work", "target/e2e")).toAbsolutePath();

  private final Path runDir;
  private final int portOffset;
  private final Map<String, String> env;
  private List<String> startCommand;
  private final Map<String, Launch> killed = new HashMap<>();
  /** Port to token, of the current start. */
  private volatile Map<Integer, String> tokens = Map.of();

  /** How a process was started, read from /proc before it was killed. */
  private record Launch(List<String> command, Map<String, String> environment, Path workingDir) {
  }

  private EmbeddedSystem(Path runDir, int portOffset, Map<String, String> env) {
    this.runDir = runDir;
    this.portOffset = portOffset;
    this.env = env;
  }

  /** Starts the system and waits until {@code scripts/run.sh} says it is ready (every sidecar healthy, invocation working). */
  static EmbeddedSystem start(String name, int portOffset, String... runArgs) throws Exception {
    return start(name, portOffset, Map.of(), runArgs);
  }

  /** As {@link #start(String, int, String...)}, with {@code extraEnv} for scripts/run.sh (TODO_ENV, ...). */
  static EmbeddedSystem start(String name, int portOffset, Map<String, String> extraEnv, String... runArgs)
    throws Exception {
    Path runDir = WORK.resolve(name);
    Files.createDirectories(runDir);
    Map<String, String> env = new HashMap<>(extraEnv);
    env.put("RUN_DIR", runDir.toString());
    env.put("PORT_OFFSET", String.valueOf(portOffset));
    EmbeddedSystem system = new EmbeddedSystem(runDir, portOffset, env);
    system.stopQuietly();
    // Each test class starts from nothing: no Redis data (streams, records, tasks) left by an earlier run.
    deleteTree(runDir.resolve("redis"));
    List<String> command = new ArrayList<>(List.of("bash", ROOT.resolve("scripts/run.sh").toString(), "--detach"));
    command.addAll(List.of(runArgs));
    system.startCommand = command;
    system.runStart();
    return system;
  }

  private void runStart() throws Exception {
    Path log = runDir.resolve("run.sh.log");
    try {
      int exit = script(startCommand, log, 300);
      if (exit != 0) {
        throw new IllegalStateException(String.join(" ", startCommand) + " failed with exit " + exit + ":\n"
          + tail(log, 40));
      }
    } catch (Exception | Error failed) {
      // What the start got to (Redis, Sentry, some sidecars) must not outlive it: the caller never gets this system to
      // close, and the next run would find its ports taken (seen after a start that hit its time limit).
      stopQuietly();
      throw failed;
    }
    tokens = tokensByPort();
  }

  /** {@code scripts/run.sh stop}, then the same start again, in the same run folder. */
  void stopAndStartAgain() throws Exception {
    close();
    runStart();
  }

  private int script(List<String> command, Path log, long timeoutSeconds) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile())
      .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().putAll(env);
    Process process = builder.start();
    if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException(command + " did not finish in " + timeoutSeconds + " s:\n" + tail(log, 40));
    }
    return process.exitValue();
  }

  int todoPort() {
    return appPort(portOffset, 0);
  }

  int todoSidecarPort() {
    return sidecarHttpPort(portOffset, 0);
  }

  int replicaPort(int k) {
    return appPort(portOffset, k);
  }

  int replicaSidecarPort(int k) {
    return sidecarHttpPort(portOffset, k);
  }

  /** scripts/run.sh's port plan (scripts/lib.sh plan_port; PortPlanTest holds them to it): process k's app port. */
  static int appPort(int offset, int k) {
    return 8000 + k + offset;
  }

  /** Process k's sidecar HTTP port. */
  static int sidecarHttpPort(int offset, int k) {
    return 3500 + 10 * k + offset;
  }

  /** Process k's sidecar internal gRPC port (daprd to daprd). */
  static int sidecarInternalGrpcPort(int offset, int k) {
    return 20002 + 10 * k + offset;
  }

  Path logs() {
    return runDir.resolve("logs");
  }

  /** The run folder's secrets/ (API tokens, Sentry's certificates); empty of tokens with --insecure. */
  Path secrets() {
    return runDir.resolve("secrets");
  }

  /**
   * The API token of this start in {@code secrets/<file>} (for example {@code todo-api.dapr-api-token}), or null when
   * the system runs without tokens (--insecure).
   */
  String token(String file) throws IOException {
    Path path = secrets().resolve(file);
    return Files.exists(path) ? Files.readString(path).strip() : null;
  }

  /**
   * The token {@code port} wants in {@code dapr-api-token} in the current start (each start makes new ones), or null:
   * see {@link #tokensByPort()}. Read again after every start of the system.
   */
  String tokenFor(int port) {
    return tokens.get(port);
  }

  /**
   * The token each port wants in {@code dapr-api-token}, as a client that is allowed everywhere would send it: each
   * sidecar's API its app's DAPR_API_TOKEN, each replica's port notification-service's APP_API_TOKEN (what its
   * sidecar sends). Empty with --insecure.
   */
  Map<Integer, String> tokensByPort() throws IOException {
    Map<Integer, String> tokens = new HashMap<>();
    String todoSidecar = token("todo-api.dapr-api-token");
    if (todoSidecar == null) {
      return tokens;
    }
    tokens.put(todoSidecarPort(), todoSidecar);
    for (String name : processes().keySet()) {
      if (name.matches("notification-\\d+")) {
        int k = Integer.parseInt(name.substring("notification-".length()));
        tokens.put(replicaSidecarPort(k), token("notification-service.dapr-api-token"));
        tokens.put(replicaPort(k), token("notification-service.app-api-token"));
      }
    }
    return tokens;
  }

  /** The processes of the run folder: name to PID, the last line of a name winning (a restart appends one). */
  Map<String, Long> processes() throws IOException {
    Map<String, Long> processes = new LinkedHashMap<>();
    for (String line : Files.readAllLines(runDir.resolve("processes"))) {
      String[] parts = line.trim().split("\\s+");
      if (parts.length >= 2) {
        processes.put(parts[0], Long.parseLong(parts[1]));
      }
    }
    return processes;
  }

  /** The address {@code scripts/run.sh} recorded for {@code name}, such as {@code redis://127.0.0.1:40123}. */
  String url(String name) throws IOException {
    for (String line : Files.readAllLines(runDir.resolve("processes"))) {
      String[] parts = line.trim().split("\\s+");
      if (parts.length >= 3 && parts[0].equals(name)) {
        return parts[2];
      }
    }
    throw new IllegalStateException("no process " + name + " in " + runDir.resolve("processes"));
  }

  /** SIGKILLs {@code name} (for example {@code notification-2} or {@code notification-2-daprd}), remembering how to restart it. */
  void kill(String name) throws Exception {
    long pid = processes().get(name);
    remember(name, pid);
    ProcessHandle handle = ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException(name + " is not running"));
    handle.destroyForcibly();
    handle.onExit().get(10, TimeUnit.SECONDS);
  }

  private void remember(String name, long pid) throws IOException {
    Path proc = Path.of("/proc", String.valueOf(pid));
    List<String> command = nulSeparated(Files.readAllBytes(proc.resolve("cmdline")));
    Map<String, String> environment = new LinkedHashMap<>();
    for (String entry : nulSeparated(Files.readAllBytes(proc.resolve("environ")))) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        environment.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    killed.put(name, new Launch(command, environment, proc.resolve("cwd").toRealPath()));
  }

  /**
   * SIGTERMs {@code name}, remembering how to restart it, and answers how long it took to exit (at most
   * {@code timeoutMs}; a process still running then is SIGKILLed and the answer is -1).
   */
  long terminate(String name, long timeoutMs) throws Exception {
    long pid = processes().get(name);
    remember(name, pid);
    ProcessHandle handle = ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException(name + " is not running"));
    long start = System.nanoTime();
    handle.destroy();
    try {
      handle.onExit().get(timeoutMs, TimeUnit.MILLISECONDS);
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    } catch (java.util.concurrent.TimeoutException stillRunning) {
      handle.destroyForcibly();
      handle.onExit().get(10, TimeUnit.SECONDS);
      return -1;
    }
  }

  /** Starts a killed process again as it was; scripts/run.sh stop will stop it too. */
  void restart(String name) throws Exception {
    Launch launch = killed.remove(name);
    ProcessBuilder builder = new ProcessBuilder(launch.command()).directory(launch.workingDir().toFile())
      .redirectErrorStream(true)
      .redirectOutput(ProcessBuilder.Redirect.appendTo(logs().resolve(name + ".log").toFile()))
      .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    builder.environment().clear();
    builder.environment().putAll(launch.environment());
    Process process = builder.start();
    Files.writeString(runDir.resolve("processes"), name + " " + process.pid() + " restarted\n",
      StandardCharsets.UTF_8, StandardOpenOption.APPEND);
  }

  @Override
  public void close() throws Exception {
    script(List.of("bash", ROOT.resolve("scripts/run.sh").toString(), "stop"), runDir.resolve("run.sh.log"), 60);
  }

  private void stopQuietly() {
    try {
      if (Files.exists(runDir.resolve("processes"))) {
        close();
      }
    } catch (Exception e) {
      System.err.println("could not stop an earlier run in " + runDir + ": " + e);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** The NUL-separated strings of a /proc file such as cmdline or environ. */
  static List<String> nulSeparated(byte[] bytes) {
    List<String> parts = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == 0) {
        parts.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
        start = i + 1;
      }
    }
    return parts;
  }

  static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log at " + file + ")";
    }
  }
}
