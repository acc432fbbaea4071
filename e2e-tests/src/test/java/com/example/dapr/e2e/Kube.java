package com.example.dapr.e2e;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one-node cluster of {@code scripts/cluster.sh}, driven as a user drives it: {@code cluster.sh up}, then
 * {@code scripts/k8s-api-tokens.sh} and {@code kubectl apply -k manifests/overlays/local}; {@link #close} runs
 * {@code cluster.sh down}, which removes every process, chain, mount, cgroup, link and folder the cluster made.
 * Every kubectl call is bounded in time. Commands and their output go to {@code target/cluster/}.
 */
final class Kube implements AutoCloseable {

  static final String NAMESPACE = "todo-dapr";
  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();

  private final Path work;
  private final Path kubeconfig;
  private final String kubectl;
  private final List<Process> background = new ArrayList<>();
  private final Map<String, Process> followers = new ConcurrentHashMap<>();
  private final Map<String, Path> files = new ConcurrentHashMap<>();

  private Kube(Path work, Path kubeconfig, String kubectl) {
    this.work = work;
    this.kubeconfig = kubeconfig;
    this.kubectl = kubectl;
  }

  /**
   * {@code scripts/cluster.sh up} (its output in {@code work/up.log}); the cluster is the README's, in {@code .cluster}.
   * With {@code -Dcluster.keep=true} a cluster that is already up is used as it is, and left up at the end.
   */
  static Kube up(Path work) throws Exception {
    Files.createDirectories(work);
    Kube kube = new Kube(work, ROOT.resolve(".cluster/admin.kubeconfig"), kubectlPath());
    boolean running = run(ROOT, Map.of(), null, 60, "scripts/cluster.sh", "status").exit() == 0;
    if (running && Boolean.getBoolean("cluster.keep")) {
      return kube;
    }
    kube.script(Duration.UP, "up.log", "scripts/cluster.sh", "up");
    return kube;
  }

  private static String kubectlPath() throws Exception {
    String out = run(ROOT, Map.of(), null, 1_200, "scripts/setup-kubernetes.sh", "kubectl").stdout().trim();
    return out.substring(out.lastIndexOf(' ') + 1);
  }

  private enum Duration {
    UP(1_800), SCRIPT(300);
    final long seconds;

    Duration(long seconds) {
      this.seconds = seconds;
    }
  }

  /**
   * A script of the project, with this cluster's environment; its output (both streams) shown as it comes, for the
   * progress of long steps, and appended to {@code work/log}. Killed and failed after {@code limit}.
   */
  void script(Duration limit, String log, String... command) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true)
      .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    builder.environment().putAll(env());
    Process process = builder.start();
    List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread pump = new Thread(() -> {
      try (var reader = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
        StandardCharsets.UTF_8))) {
        reader.lines().forEach(line -> {
          System.out.println("  | " + line);
          lines.add(line);
        });
      } catch (IOException e) {
        lines.add("(output lost: " + e + ")");
      }
    }, "script-output");
    pump.start();
    boolean finished = process.waitFor(limit.seconds, TimeUnit.SECONDS);
    if (!finished) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
    pump.join(10_000);
    String output = String.join("\n", lines);
    Files.writeString(work.resolve(log), "$ " + String.join(" ", command) + "\n" + output + "\n",
      StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    if (!finished || process.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + (finished ? " failed (exit " + process.exitValue()
        + ")" : " did not finish in " + limit.seconds + " s") + "; its output: " + work.resolve(log));
    }
  }

  void script(String log, String... command) throws Exception {
    script(Duration.SCRIPT, log, command);
  }

  private Map<String, String> env() {
    String path = Path.of(kubectl).getParent() + ":" + System.getenv("PATH");
    return Map.of("KUBECONFIG", kubeconfig.toString(), "PATH", path);
  }

  /** kubectl with this cluster's kubeconfig; fails on a non-zero exit. */
  String kubectl(String... args) throws Exception {
    return kubectlWithInput(null, args);
  }

  String kubectlWithInput(String stdin, String... args) throws Exception {
    Result result = kubectlResult(stdin, args);
    if (result.exit() != 0) {
      throw new IllegalStateException("kubectl " + String.join(" ", args) + " failed (exit " + result.exit() + "): "
        + tail(result.stderr() + result.stdout(), 20));
    }
    return result.stdout();
  }

  /** kubectl with {@code stdin} (or none); its exit, stdout and stderr, whatever the exit. */
  Result kubectlResult(String stdin, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(kubectl));
    command.addAll(List.of(args));
    return run(ROOT, env(), stdin, 300, command.toArray(String[]::new));
  }

  /** kubectl -n todo-dapr ... */
  String ns(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("-n", NAMESPACE));
    command.addAll(List.of(args));
    return kubectl(command.toArray(String[]::new));
  }

  JsonObject json(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(args));
    command.addAll(List.of("-o", "json"));
    return new JsonObject(kubectl(command.toArray(String[]::new)));
  }

  /** The pods of {@code todo-dapr} with label {@code app=<app>}, not being deleted. */
  List<JsonObject> pods(String app) throws Exception {
    return pods(NAMESPACE, app);
  }

  /** The pods of {@code namespace} with label {@code app=<app>}, not being deleted. */
  List<JsonObject> pods(String namespace, String app) throws Exception {
    JsonArray items = json("-n", namespace, "get", "pods", "-l", "app=" + app).getJsonArray("items");
    List<JsonObject> pods = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      JsonObject pod = items.getJsonObject(i);
      if (pod.getJsonObject("metadata").getString("deletionTimestamp") == null) {
        pods.add(pod);
      }
    }
    return pods;
  }

  static String name(JsonObject object) {
    return object.getJsonObject("metadata").getString("name");
  }

  /** Whether every container of {@code pod} is ready and it runs: the READY n/n, STATUS Running of kubectl get pods. */
  static boolean readyAndRunning(JsonObject pod) {
    JsonObject status = pod.getJsonObject("status");
    JsonArray containers = status.getJsonArray("containerStatuses", new JsonArray());
    boolean allReady = !containers.isEmpty();
    for (int i = 0; i < containers.size(); i++) {
      allReady &= containers.getJsonObject(i).getBoolean("ready", false);
    }
    return allReady && "Running".equals(status.getString("phase"));
  }

  static List<String> containerNames(JsonObject pod) {
    JsonArray containers = pod.getJsonObject("spec").getJsonArray("containers");
    List<String> names = new ArrayList<>();
    for (int i = 0; i < containers.size(); i++) {
      names.add(containers.getJsonObject(i).getString("name"));
    }
    return names;
  }

  /** The ClusterIP of Service {@code name} in todo-dapr. */
  String clusterIp(String name) throws Exception {
    return json("-n", NAMESPACE, "get", "service", name).getJsonObject("spec").getString("clusterIP");
  }

  /**
   * {@code kubectl port-forward svc/<service> 0:<port>} on 127.0.0.1; answers the local port kubectl chose. It stops
   * with {@link #close}.
   */
  int portForward(String service, int port) throws Exception {
    ProcessBuilder process = new ProcessBuilder(kubectl, "-n", NAMESPACE, "port-forward", "--address", "127.0.0.1",
      "svc/" + service, "0:" + port)
      .redirectError(work.resolve("port-forward-" + service + ".err").toFile())
      .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    process.environment().putAll(env());
    Process started = process.start();
    background.add(started);
    var reader = new java.io.BufferedReader(new java.io.InputStreamReader(started.getInputStream(),
      StandardCharsets.UTF_8));
    Pattern forwarding = Pattern.compile("Forwarding from 127\\.0\\.0\\.1:(\\d+) ->");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String line;
    while (System.nanoTime() < deadline && (line = reader.readLine()) != null) {
      Matcher m = forwarding.matcher(line);
      if (m.find()) {
        Thread drain = new Thread(() -> reader.lines().forEach(l -> { }), "port-forward-" + service);
        drain.setDaemon(true);
        drain.start();
        return Integer.parseInt(m.group(1));
      }
    }
    throw new IllegalStateException("kubectl port-forward svc/" + service + " did not start; see "
      + work.resolve("port-forward-" + service + ".err"));
  }

  /**
   * Follows the logs of container {@code container} of every pod with label {@code app=<app>} that exists now or
   * appears until {@link #close}, each pod to a file {@code <dir>/<prefix>-<n>.log} (n in the order the pods were
   * seen): a replica's log outlives its pod. {@link #followNewPods} must be called to pick up new pods.
   */
  synchronized void followNewPods(String app, String container, Path dir, String prefix) throws Exception {
    followNewPods(NAMESPACE, app, container, dir, prefix);
  }

  /** {@link #followNewPods(String, String, Path, String)} for the pods of {@code namespace}. */
  synchronized void followNewPods(String namespace, String app, String container, Path dir, String prefix)
    throws Exception {
    Files.createDirectories(dir);
    for (JsonObject pod : pods(namespace, app)) {
      String name = name(pod);
      Process following = followers.get(name);
      if (following != null && following.isAlive() || !running(pod, container)) {
        continue;
      }
      // A new pod gets a file of its own; a follower that stopped while its container runs (kubectl lost the stream)
      // starts again on the same file, truncated: `kubectl logs -f` writes the whole log from its first line.
      Path file = following != null ? files.get(name) : dir.resolve(prefix + "-" + (followers.size() + 1) + ".log");
      files.put(name, file);
      ProcessBuilder builder = new ProcessBuilder(kubectl, "-n", namespace, "logs", "-f", name, "-c", container)
        .redirectOutput(file.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      builder.environment().putAll(env());
      followers.put(name, builder.start());
      Files.writeString(dir.resolve("pods.txt"), file.getFileName() + " " + name + (following != null ? " (again)" : "")
        + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }
  }

  /** Whether container {@code container} of {@code pod} runs now (kubectl logs -f on a waiting one exits at once). */
  private static boolean running(JsonObject pod, String container) {
    JsonArray statuses = pod.getJsonObject("status").getJsonArray("containerStatuses", new JsonArray());
    for (int i = 0; i < statuses.size(); i++) {
      JsonObject status = statuses.getJsonObject(i);
      if (container.equals(status.getString("name"))) {
        return status.getJsonObject("state", new JsonObject()).containsKey("running");
      }
    }
    return false;
  }

  /** Waits until no log follower runs for a pod that is gone: every line a deleted pod wrote has been read. */
  void awaitFollowersOfGonePods(long timeoutMs) throws Exception {
    awaitFollowersOfGonePods(NAMESPACE, "notification-service", timeoutMs);
  }

  /** {@link #awaitFollowersOfGonePods(long)} for the pods of {@code app} in {@code namespace}. */
  void awaitFollowersOfGonePods(String namespace, String app, long timeoutMs) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      List<String> live = new ArrayList<>();
      for (JsonObject pod : pods(namespace, app)) {
        live.add(name(pod));
      }
      // The Deployment's pods are named <app>-<hash>-<id>: the followers of other apps' pods are not waited for.
      boolean pending = followers.entrySet().stream().anyMatch(e -> e.getKey().startsWith(app + "-")
        && !live.contains(e.getKey()) && e.getValue().isAlive());
      if (!pending) {
        return;
      }
      Thread.sleep(200);
    }
  }

  @Override
  public void close() throws Exception {
    for (Process p : background) {
      p.destroy();
    }
    for (Process p : followers.values()) {
      p.destroy();
    }
    for (Process p : background) {
      p.waitFor(5, TimeUnit.SECONDS);
    }
    if (!Boolean.getBoolean("cluster.keep")) {
      script("down.log", "scripts/cluster.sh", "down");
    }
  }

  record Result(int exit, String stdout, String stderr) {
  }

  /** Runs {@code command} in {@code dir}, at most {@code seconds}; killed (and failed) after that. */
  static Result run(Path dir, Map<String, String> env, String stdin, long seconds, String... command)
    throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile());
    builder.environment().putAll(env);
    Path out = Files.createTempFile("kube-out", ".txt");
    Path err = Files.createTempFile("kube-err", ".txt");
    try {
      builder.redirectOutput(out.toFile()).redirectError(err.toFile());
      if (stdin == null) {
        builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      }
      Process process = builder.start();
      if (stdin != null) {
        try (var in = process.getOutputStream()) {
          in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
      }
      if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " did not finish in " + seconds + " s");
      }
      return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static String tail(String text, int lines) {
    String[] all = text.split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
  }
}
