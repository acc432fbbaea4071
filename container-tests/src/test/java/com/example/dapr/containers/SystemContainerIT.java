package com.example.dapr.containers;

import com.github.dockerjava.api.model.ExposedPort;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The images as shipped: todo-api and two notification-service containers, each beside a daprd container, on a Docker
 * network of their own, with the embedded run's Dapr resources (dapr/components and dapr/state-memory: the in-memory
 * state store with the transactional outbox, the outbox's Redis Streams pub/subs, notification-service's delivery
 * record in Redis), a Redis container (network alias {@code redis}) and the SQLite name resolver on a shared folder.
 * {@code POST /tasks} goes in through todo-api's published port; the task must be stored and its notification must
 * reach a replica; a task created while every replica is down must be delivered once they are back, exactly once.
 * Needs the images of scripts/build-images.sh ({@code todo-api:latest}, {@code notification-service:latest},
 * {@code local/redis}) and a daprd 1.18.3 binary (scripts/setup-daprd.sh): the test builds {@code local/daprd:1.18.3}
 * (docker/daprd.Dockerfile) and {@code local/redis} (docker/redis.Dockerfile) when they are not there yet. Without a
 * Docker engine the test is skipped, and says so.
 */
class SystemContainerIT {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  private static final String DAPR_VERSION = "1.18.3";
  private static final DockerImageName DAPRD = DockerImageName.parse("local/daprd:" + DAPR_VERSION);
  private static final DockerImageName REDIS = DockerImageName.parse("local/redis:latest");
  /** Every wait of the outage test is bounded by this. */
  private static final Duration DELIVERY_BOUND = Duration.ofSeconds(90);
  private static final List<GenericContainer<?>> CONTAINERS = new ArrayList<>();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static Network network;
  private static GenericContainer<?> todoApi;
  private static final List<GenericContainer<?>> REPLICAS = new ArrayList<>();

  private static boolean dockerAvailable;
  private static Path nameResolution;

  @BeforeAll
  static void start() throws IOException {
    dockerAvailable = DockerClientFactory.instance().isDockerAvailable();
    if (!dockerAvailable) {
      // Each test is then reported as skipped (see skipWithoutDocker), not silently absent.
      System.err.println("\n*** SKIPPED: no Docker engine answers, so the container smoke test cannot run. ***\n"
        + "*** Start one (scripts/start-docker.sh) and build the images (scripts/build-images.sh).    ***\n");
      return;
    }
    ensureDaprdImage();
    ensureRedisImage();
    network = Network.newNetwork();
    // Redis first: every daprd loads Redis-backed components at start (REDIS_HOST=redis:6379).
    GenericContainer<?> redis = new GenericContainer<>(REDIS)
      .withNetwork(network)
      .withNetworkAliases("redis")
      .waitingFor(Wait.forLogMessage(".*Ready to accept connections.*", 1)
        .withStartupTimeout(Duration.ofSeconds(30)));
    CONTAINERS.add(redis);
    // The SQLite name-resolution database, shared by every daprd container (all on this one machine).
    nameResolution = Files.createTempDirectory("todo-dapr-nr");
    Files.setPosixFilePermissions(nameResolution, PosixFilePermissions.fromString("rwxrwxrwx"));

    for (int k = 1; k <= 2; k++) {
      // Each replica keeps its delivery record through its own sidecar's state API (notificationstore).
      GenericContainer<?> replica = app("notification-service:latest", "notification-" + k, 8001)
        .withEnv("REPLICA_ID", "notification-" + k)
        .withEnv("DAPR_SIDECAR_IP", "notification-" + k + "-dapr")
        .withEnv("DAPR_HTTP_PORT", "3500");
      REPLICAS.add(replica);
      sidecar("notification-" + k, "notification-service", 8001, nameResolution);
    }
    todoApi = app("todo-api:latest", "todo-api", 8000)
      .withEnv("DAPR_SIDECAR_IP", "todo-api-dapr")
      .withEnv("DAPR_HTTP_PORT", "3500");
    sidecar("todo-api", "todo-api", 8000, nameResolution);
    CONTAINERS.forEach(GenericContainer::start);
  }

  /**
   * Builds local/daprd:1.18.3 from the daprd binary of scripts/setup-daprd.sh unless the image is there already
   * (scripts/build-images.sh, which the test command runs first, builds it from the current binary every time).
   */
  private static void ensureDaprdImage() throws IOException {
    try {
      DockerClientFactory.instance().client().inspectImageCmd(DAPRD.asCanonicalNameString()).exec();
      return;
    } catch (com.github.dockerjava.api.exception.NotFoundException missing) {
      // built below
    }
    Path binary = daprdBinary();
    System.err.println("building " + DAPRD.asCanonicalNameString() + " from " + binary);
    new ImageFromDockerfile(DAPRD.asCanonicalNameString(), false)
      .withFileFromPath("Dockerfile", ROOT.resolve("docker/daprd.Dockerfile"))
      .withFileFromPath("daprd", binary)
      .get();
  }

  /** Builds local/redis from docker/redis.Dockerfile unless it is there (scripts/build-images.sh builds it). */
  private static void ensureRedisImage() {
    try {
      DockerClientFactory.instance().client().inspectImageCmd(REDIS.asCanonicalNameString()).exec();
      return;
    } catch (com.github.dockerjava.api.exception.NotFoundException missing) {
      // built below
    }
    System.err.println("building " + REDIS.asCanonicalNameString() + " from docker/redis.Dockerfile");
    new ImageFromDockerfile(REDIS.asCanonicalNameString(), false)
      .withFileFromPath("Dockerfile", ROOT.resolve("docker/redis.Dockerfile"))
      .get();
  }

  /** -Ddaprd.binary, $DAPRD, or the cache of scripts/setup-daprd.sh (~/.cache/todo-dapr/daprd-1.18.3-*). */
  private static Path daprdBinary() throws IOException {
    for (String given : new String[] {System.getProperty("daprd.binary"), System.getenv("DAPRD")}) {
      if (given != null && !given.isBlank() && Files.isExecutable(Path.of(given))) {
        return Path.of(given);
      }
    }
    Path cache = Path.of(System.getenv().getOrDefault("DAPR_CACHE_DIR",
      System.getProperty("user.home") + "/.cache/todo-dapr"));
    Path fixed = cache.resolve("dapr-" + DAPR_VERSION).resolve("daprd");
    if (Files.isExecutable(fixed)) {
      return fixed;
    }
    if (Files.isDirectory(cache)) {
      try (Stream<Path> dirs = Files.list(cache)) {
        Path built = dirs.filter(d -> d.getFileName().toString().startsWith("daprd-" + DAPR_VERSION + "-"))
          .map(d -> d.resolve("daprd")).filter(Files::isExecutable)
          .max(Comparator.comparing(p -> p.toFile().lastModified())).orElse(null);
        if (built != null) {
          return built;
        }
      }
    }
    throw new IllegalStateException("no daprd " + DAPR_VERSION + " binary: run scripts/setup-daprd.sh first "
      + "(or pass -Ddaprd.binary=/path/to/daprd)");
  }

  private static GenericContainer<?> app(String image, String alias, int port) {
    GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(image))
      .withNetwork(network)
      .withNetworkAliases(alias)
      .withExposedPorts(port)
      .waitingFor(Wait.forHttp("/health/live").forPort(port).withStartupTimeout(Duration.ofSeconds(60)));
    CONTAINERS.add(container);
    return container;
  }

  private static void sidecar(String appAlias, String appId, int appPort, Path nameResolution) {
    String alias = appAlias + "-dapr";
    GenericContainer<?> daprd = new GenericContainer<>(DAPRD)
      .withNetwork(network)
      .withNetworkAliases(alias)
      // The address this sidecar registers for the others to reach it: its name on the network.
      .withEnv("DAPR_HOST_IP", alias)
      // Read by the Redis-backed components (envRef), as scripts/run.sh passes it.
      .withEnv("REDIS_HOST", "redis:6379")
      // The two resource folders of scripts/run.sh: what every sidecar loads, and the state store (in-memory).
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/components")), "/dapr/components")
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/state-memory")), "/dapr/state-memory")
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/config.yaml")), "/dapr/config.yaml")
      .withFileSystemBind(nameResolution.toString(), "/nr")
      .withWorkingDirectory("/nr")
      .withCommand("--app-id", appId, "--app-port", String.valueOf(appPort), "--app-channel-address", appAlias,
        "--dapr-http-port", "3500", "--dapr-grpc-port", "50001", "--dapr-internal-grpc-port", "50002",
        "--metrics-port", "9090", "--dapr-listen-addresses", "0.0.0.0", "--resources-path", "/dapr/components",
        "--resources-path", "/dapr/state-memory", "--config", "/dapr/config.yaml",
        "--enable-api-logging")
      .withExposedPorts(3500)
      .waitingFor(Wait.forHttp("/v1.0/healthz").forPort(3500).forStatusCode(204)
        .withStartupTimeout(Duration.ofSeconds(90)));
    CONTAINERS.add(daprd);
  }

  @BeforeEach
  void skipWithoutDocker() {
    Assumptions.assumeTrue(dockerAvailable, "SKIPPED: no Docker engine answers (start one with scripts/start-docker.sh)");
  }

  @AfterAll
  static void stop() {
    for (GenericContainer<?> container : CONTAINERS) {
      container.stop();
    }
    if (network != null) {
      network.close();
    }
    if (nameResolution != null) {
      try (Stream<Path> files = Files.walk(nameResolution)) {
        files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
      } catch (IOException ignored) {
        // a temporary folder: best effort
      }
    }
  }

  private static HttpResponse<String> send(HttpRequest request) throws Exception {
    return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
  }

  /**
   * The container's port as published now: read from Docker each time, because a container stopped and started again
   * (the outage test) may be given another host port, which Testcontainers' cached mapping would not show.
   */
  private static URI url(GenericContainer<?> container, int port, String path) {
    var bindings = DockerClientFactory.instance().client().inspectContainerCmd(container.getContainerId()).exec()
      .getNetworkSettings().getPorts().getBindings().get(ExposedPort.tcp(port));
    assertTrue(bindings != null && bindings.length > 0, container.getDockerImageName() + ": port " + port
      + " not published (is the container running?)");
    return URI.create("http://127.0.0.1:" + bindings[0].getHostPortSpec() + path);
  }

  @Test
  void aTaskPostedToTheTodoApiContainerIsStoredAndItsNotificationReachesAReplica() throws Exception {
    HttpResponse<String> created = send(HttpRequest.newBuilder(url(todoApi, 8000, "/tasks"))
      .header("Content-Type", "application/json")
      .timeout(Duration.ofSeconds(30))
      .POST(HttpRequest.BodyPublishers.ofString("{\"title\":\"From a container\"}")).build());
    assertEquals(201, created.statusCode(), created.body());
    JsonObject task = new JsonObject(created.body());
    JsonObject notification = task.getJsonObject("notification");
    assertEquals("delivered", notification.getString("status"), notification::encode);
    String replica = notification.getString("replica");
    assertTrue(Set.of("notification-1", "notification-2").contains(replica), replica);

    HttpResponse<String> read = send(HttpRequest.newBuilder(url(todoApi, 8000, "/tasks/" + task.getString("id")))
      .timeout(Duration.ofSeconds(30)).build());
    assertEquals(200, read.statusCode(), read.body());
    assertEquals("From a container", new JsonObject(read.body()).getString("title"));

    GenericContainer<?> served = REPLICAS.get(Integer.parseInt(replica.substring("notification-".length())) - 1);
    HttpResponse<String> seen = send(HttpRequest.newBuilder(
      url(served, 8001, "/notifications?task_id=" + task.getString("id"))).timeout(Duration.ofSeconds(30)).build());
    assertEquals("Todo created: From a container",
      new JsonObject(seen.body()).getJsonArray("recent").getJsonObject(0).getString("message"));
  }

  /** How the replicas are taken down for the outage test, and brought back. */
  enum Outage {
    /**
     * {@code docker stop}: their names no longer resolve, so every call fails at once (ERR_DIRECT_INVOKE) and nothing
     * reaches them; {@code docker start} brings them back with an empty delivery log.
     */
    STOPPED,
    /**
     * {@code docker pause}: every call hangs until todo-api's timeout, and the requests it gave up on wait in the frozen
     * processes' sockets; on {@code docker unpause} they are handled after all, beside the outbox's own delivery, so
     * the notification reaches the replicas several times and the delivery record must keep it to one.
     */
    PAUSED;

    void takeDown(GenericContainer<?> container) {
      var docker = DockerClientFactory.instance().client();
      if (this == STOPPED) {
        docker.stopContainerCmd(container.getContainerId()).withTimeout(10).exec();
      } else {
        docker.pauseContainerCmd(container.getContainerId()).exec();
      }
    }

    /** Brings the container back from either outage, whatever state it is in; a running one is left alone. */
    static void bringBack(GenericContainer<?> container) {
      var docker = DockerClientFactory.instance().client();
      var state = docker.inspectContainerCmd(container.getContainerId()).exec().getState();
      if (Boolean.TRUE.equals(state.getPaused())) {
        docker.unpauseContainerCmd(container.getContainerId()).exec();
      } else if (!Boolean.TRUE.equals(state.getRunning())) {
        docker.startContainerCmd(container.getContainerId()).exec();
      }
    }
  }

  /**
   * The durable path: with both notification-service containers down (stopped, or paused), a create still answers 201
   * with its notification "pending" (it is in the outbox with the task), and todo-api's outbox subscriber tries to
   * deliver it for a few seconds more; once the replicas are back, it is delivered, and it reached exactly one replica
   * exactly once (counted at the replicas: GET /notifications?notification_id=...).
   */
  @ParameterizedTest
  @EnumSource(Outage.class)
  void aTaskCreatedWhileEveryReplicaIsDownIsDeliveredExactlyOnceWhenTheyAreBack(Outage outage) throws Exception {
    JsonObject task;
    try {
      for (GenericContainer<?> replica : REPLICAS) {
        outage.takeDown(replica);
      }
      long t0 = System.nanoTime();
      HttpResponse<String> created = send(HttpRequest.newBuilder(url(todoApi, 8000, "/tasks"))
        .header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString("{\"title\":\"While every replica is " + outage + "\"}")).build());
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      assertEquals(201, created.statusCode(), created.body());
      task = new JsonObject(created.body());
      JsonObject notification = task.getJsonObject("notification");
      assertEquals("pending", notification.getString("status"), notification::encode);
      // At once when stopped; after todo-api's notify timeout (NOTIFY_TIMEOUT_MS, 3 s) when paused.
      assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "the create took " + took);
      System.err.println(outage + ": create with every replica down answered 201 in " + took.toMillis()
        + " ms, notification " + notification.encode());
      // The outbox publishes it about 1 s after the transaction; let the subscriber try while the replicas are down.
      Thread.sleep(6_000);
    } finally {
      // Whatever happened above, the replicas come back, so the other tests find them running.
      for (GenericContainer<?> replica : REPLICAS) {
        Outage.bringBack(replica);
      }
    }
    long back = System.nanoTime();
    for (GenericContainer<?> replica : REPLICAS) {
      awaitLive(replica);
    }
    String notificationId = task.getJsonObject("notification").getString("notification_id",
      task.getString("id") + ":created");

    // Delivered: wait (bounded) until a replica has it.
    long deadline = System.nanoTime() + DELIVERY_BOUND.toNanos();
    int[] counts = receivedAtEachReplica(notificationId);
    while (counts[0] + counts[1] == 0 && System.nanoTime() < deadline) {
      Thread.sleep(250);
      counts = receivedAtEachReplica(notificationId);
    }
    assertTrue(counts[0] + counts[1] > 0, "notification " + notificationId + " not delivered "
      + DELIVERY_BOUND.toSeconds() + " s after the replicas were back");
    System.err.println(outage + ": delivered " + Duration.ofNanos(System.nanoTime() - back).toMillis()
      + " ms after the replicas were back");

    // Exactly once: it stays at one delivery, on one replica, while the requests held by paused replicas are handled
    // and todo-api's subscriber and Dapr's redelivery of unacknowledged events (pubsub.yaml: redeliverInterval 5 s)
    // have time to send it again.
    long quiet = System.nanoTime() + Duration.ofSeconds(12).toNanos();
    while (System.nanoTime() < quiet) {
      counts = receivedAtEachReplica(notificationId);
      assertTrue(counts[0] + counts[1] == 1, "notification " + notificationId + " delivered " + counts[0]
        + " time(s) at notification-1 and " + counts[1] + " at notification-2");
      Thread.sleep(500);
    }
    assertEquals(1, counts[0] + counts[1]);
    assertTrue(counts[0] == 0 || counts[1] == 0, "one replica has it");
  }

  /** How many times each replica received {@code notificationId} (GET /notifications?notification_id=...). */
  private static int[] receivedAtEachReplica(String notificationId) throws Exception {
    int[] counts = new int[REPLICAS.size()];
    for (int i = 0; i < counts.length; i++) {
      HttpResponse<String> seen = send(HttpRequest.newBuilder(url(REPLICAS.get(i), 8001,
          "/notifications?notification_id=" + URLEncoder.encode(notificationId, StandardCharsets.UTF_8)))
        .timeout(Duration.ofSeconds(10)).build());
      assertEquals(200, seen.statusCode(), seen.body());
      counts[i] = new JsonObject(seen.body()).getJsonArray("recent").size();
    }
    return counts;
  }

  /** Waits (bounded) until a container that came back answers GET /health/live. */
  private static void awaitLive(GenericContainer<?> app) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> live = send(HttpRequest.newBuilder(url(app, 8001, "/health/live"))
          .timeout(Duration.ofSeconds(5)).build());
        if (live.statusCode() == 200) {
          return;
        }
      } catch (Exception | AssertionError notYet) {
        last = notYet instanceof Exception e ? e : new IllegalStateException(notYet);
      }
      Thread.sleep(250);
    }
    throw new AssertionError(app.getDockerImageName() + " not live 60 s after it came back", last);
  }

  @Test
  void everyContainerRunsAsANonRootUser() throws Exception {
    for (GenericContainer<?> container : CONTAINERS) {
      String user = container.getContainerInfo().getConfig().getUser();
      assertTrue(user != null && !user.isBlank() && !user.startsWith("0") && !user.startsWith("root"),
        container.getDockerImageName() + " runs as '" + user + "'");
    }
    for (GenericContainer<?> app : List.of(todoApi, REPLICAS.get(0))) {
      String uid = app.execInContainer("id", "-u").getStdout().strip();
      assertNotEquals("0", uid, app.getDockerImageName().toString());
      assertEquals("10001", uid);
    }
  }
}
