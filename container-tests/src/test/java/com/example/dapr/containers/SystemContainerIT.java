package com.example.dapr.containers;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
 * network of their own, with Dapr's in-memory state store and the SQLite name resolver on a shared folder.
 * {@code POST /tasks} goes in through todo-api's published port; the task must be stored and its notification must
 * reach a replica. Needs the images of scripts/build-images.sh ({@code todo-api:latest},
 * {@code notification-service:latest}) and a daprd 1.18.3 binary (scripts/setup-daprd.sh): the test builds the image
 * {@code local/daprd:1.18.3} from it (docker/daprd.Dockerfile) when that image is not there yet. Without a Docker
 * engine the test is skipped, and says so.
 */
class SystemContainerIT {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  private static final String DAPR_VERSION = "1.18.3";
  private static final DockerImageName DAPRD = DockerImageName.parse("local/daprd:" + DAPR_VERSION);
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
    network = Network.newNetwork();
    // The SQLite name-resolution database, shared by every daprd container (all on this one machine).
    nameResolution = Files.createTempDirectory("todo-dapr-nr");
    Files.setPosixFilePermissions(nameResolution, PosixFilePermissions.fromString("rwxrwxrwx"));

    for (int k = 1; k <= 2; k++) {
      GenericContainer<?> replica = app("notification-service:latest", "notification-" + k, 8001)
        .withEnv("REPLICA_ID", "notification-" + k);
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
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/components")), "/dapr/components")
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/config.yaml")), "/dapr/config.yaml")
      .withFileSystemBind(nameResolution.toString(), "/nr")
      .withWorkingDirectory("/nr")
      .withCommand("--app-id", appId, "--app-port", String.valueOf(appPort), "--app-channel-address", appAlias,
        "--dapr-http-port", "3500", "--dapr-grpc-port", "50001", "--dapr-internal-grpc-port", "50002",
        "--metrics-port", "9090", "--dapr-listen-addresses", "0.0.0.0", "--resources-path", "/dapr/components", "--config", "/dapr/config.yaml",
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

  private static URI url(GenericContainer<?> container, int port, String path) {
    return URI.create("http://127.0.0.1:" + container.getMappedPort(port) + path);
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
