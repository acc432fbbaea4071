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
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Comparator;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The images as shipped: todo-api, two notification-service containers and billing-service (its sidecar in namespace
 * billing, as todo-api's BILLING_APP_ID billing-service.billing names it), each beside a daprd container, on a Docker
 * network of their own, with the embedded run's Dapr resources (dapr/components and dapr/state-memory: the in-memory
 * state store with the transactional outbox, the outbox's Redis Streams pub/subs, notification-service's delivery
 * record in Redis), a Redis container (network alias {@code redis}) and the SQLite name resolver on a shared folder.
 * The project's secure default, as scripts/run.sh runs it: a Sentry container (network alias {@code sentry}, a CA made
 * for this run) issues every sidecar its mTLS certificate; notification-service's sidecars let only app id todo-api
 * invoke it (dapr/security/notification-service.yaml), todo-api's let nobody (dapr/security/todo-api.yaml); each app
 * and its sidecar share two tokens made for this run: DAPR_API_TOKEN (the app calling its sidecar) and APP_API_TOKEN
 * (the sidecar calling its app).
 * {@code POST /tasks} goes in through todo-api's published port; the task must be stored and its notification must
 * reach a replica; a task created while every replica is down must be delivered once they are back, exactly once. A
 * call without a token, and an invocation from another app id (an {@code intruder} sidecar with its own certificate),
 * are refused and deliver nothing.
 * Needs the images of scripts/build-images.sh ({@code todo-api:<version>}, {@code notification-service:<version>},
 * {@code billing-service:<version>},
 * {@code local/redis}) and daprd and Sentry 1.18.3 binaries (scripts/setup-daprd.sh, {@code scripts/setup-daprd.sh
 * sentry}): the test builds {@code local/daprd:1.18.3} (docker/daprd.Dockerfile), {@code local/sentry:1.18.3}
 * (docker/sentry.Dockerfile) and {@code local/redis} (docker/redis.Dockerfile) when they are not there yet. Without a
 * Docker engine the test is skipped, and says so.
 */
class SystemContainerIT {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  private static final String DAPR_VERSION = "1.18.3";
  private static final DockerImageName DAPRD = DockerImageName.parse("local/daprd:" + DAPR_VERSION);
  private static final DockerImageName SENTRY = DockerImageName.parse("local/sentry:" + DAPR_VERSION);
  /** The tag scripts/build-images.sh gives the app images: the project's version (image.tag, from the pom). */
  private static final String IMAGE_TAG = System.getProperty("image.tag", "1.0.0");
  private static final DockerImageName REDIS = DockerImageName.parse("local/redis:7.0");
  /** The header of both Dapr tokens: the app's to its sidecar (DAPR_API_TOKEN), the sidecar's to its app (APP_API_TOKEN). */
  private static final String TOKEN_HEADER = "dapr-api-token";
  /** Made for this run, never printed: todo-api and its sidecar share two, the notification replicas and theirs two. */
  private static final String TODO_DAPR_TOKEN = newToken();
  private static final String TODO_APP_TOKEN = newToken();
  private static final String NOTIFICATION_DAPR_TOKEN = newToken();
  private static final String NOTIFICATION_APP_TOKEN = newToken();
  private static final String BILLING_DAPR_TOKEN = newToken();
  private static final String BILLING_APP_TOKEN = newToken();
  /** Every wait of the outage test is bounded by this. */
  private static final Duration DELIVERY_BOUND = Duration.ofSeconds(90);
  private static final List<GenericContainer<?>> CONTAINERS = new ArrayList<>();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static Network network;
  private static GenericContainer<?> todoApi;
  private static GenericContainer<?> todoApiSidecar;
  private static final List<GenericContainer<?>> REPLICAS = new ArrayList<>();
  private static GenericContainer<?> billing;
  /**
   * The two resource folders of scripts/run.sh for todo-api and the replicas: what every sidecar loads, and the state
   * store (in-memory). billing-service's sidecar loads dapr/billing alone.
   */
  private static final List<String> RESOURCES = List.of("dapr/components", "dapr/state-memory");

  private static boolean dockerAvailable;
  private static Path nameResolution;
  /** Sentry's issuer credentials (ca.crt, issuer.crt, issuer.key), made for this run. */
  private static Path issuerCredentials;
  /** The PEM of this run's CA: every sidecar's DAPR_TRUST_ANCHORS. */
  private static String trustAnchors;

  private static String newToken() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  @BeforeAll
  static void start() throws IOException {
    dockerAvailable = DockerClientFactory.instance().isDockerAvailable();
    if (!dockerAvailable) {
      // Each test is then reported as skipped (see skipWithoutDocker), not silently absent.
      System.err.println("\n*** SKIPPED: no Docker engine answers, so the container smoke test cannot run. ***\n"
        + "*** Start one (scripts/start-docker.sh) and build the images (scripts/build-images.sh).    ***\n");
      return;
    }
    ensureBinaryImage(DAPRD, "daprd", "docker/daprd.Dockerfile");
    ensureBinaryImage(SENTRY, "sentry", "docker/sentry.Dockerfile");
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

    // Sentry, and this run's CA. Made first by a Sentry of its own, which is then stopped: a Sentry that generates its
    // credentials sees its own files appear in the folder it watches and reloads itself a few times over ~6 s,
    // restarting its gRPC server, and a sidecar that asks for its certificate then exits. On credentials that are
    // already there, Sentry starts once. The sidecars start after Sentry's healthz answers (daprd exits without it).
    issuerCredentials = Files.createTempDirectory("todo-dapr-sentry");
    Files.setPosixFilePermissions(issuerCredentials, PosixFilePermissions.fromString("rwxrwxrwx"));
    trustAnchors = generateIssuerCredentials(issuerCredentials);
    GenericContainer<?> sentry = sentry(issuerCredentials)
      .withNetwork(network)
      .withNetworkAliases("sentry")
      .withExposedPorts(8080)
      .waitingFor(Wait.forHttp("/healthz").forPort(8080).forStatusCode(200)
        .withStartupTimeout(Duration.ofSeconds(30)));
    CONTAINERS.add(sentry);

    for (int k = 1; k <= 2; k++) {
      // Each replica keeps its delivery record through its own sidecar's state API (notificationstore).
      GenericContainer<?> replica = app("notification-service:" + IMAGE_TAG, "notification-" + k, 8001)
        .withEnv("REPLICA_ID", "notification-" + k)
        .withEnv("DAPR_SIDECAR_IP", "notification-" + k + "-dapr")
        .withEnv("DAPR_HTTP_PORT", "3500")
        .withEnv("DAPR_API_TOKEN", NOTIFICATION_DAPR_TOKEN)
        .withEnv("APP_API_TOKEN", NOTIFICATION_APP_TOKEN);
      REPLICAS.add(replica);
      sidecar("notification-" + k, "notification-service", 8001, NOTIFICATION_DAPR_TOKEN, NOTIFICATION_APP_TOKEN,
        RESOURCES);
    }
    // billing-service as scripts/run.sh runs it: its sidecar in namespace billing, with its ledger (dapr/billing) as
    // its only component and its access control (only todo-api of the namespace default may call it).
    billing = app("billing-service:" + IMAGE_TAG, "billing", 8002)
      .withEnv("REPLICA_ID", "billing-1")
      .withEnv("DAPR_SIDECAR_IP", "billing-dapr")
      .withEnv("DAPR_HTTP_PORT", "3500")
      .withEnv("DAPR_API_TOKEN", BILLING_DAPR_TOKEN)
      .withEnv("APP_API_TOKEN", BILLING_APP_TOKEN);
    sidecar("billing", "billing-service", 8002, BILLING_DAPR_TOKEN, BILLING_APP_TOKEN, List.of("dapr/billing"))
      .withEnv("NAMESPACE", "billing");
    todoApi = app("todo-api:" + IMAGE_TAG, "todo-api", 8000)
      .withEnv("BILLING_APP_ID", "billing-service.billing")
      .withEnv("DAPR_SIDECAR_IP", "todo-api-dapr")
      .withEnv("DAPR_HTTP_PORT", "3500")
      .withEnv("DAPR_API_TOKEN", TODO_DAPR_TOKEN)
      .withEnv("APP_API_TOKEN", TODO_APP_TOKEN);
    todoApiSidecar = sidecar("todo-api", "todo-api", 8000, TODO_DAPR_TOKEN, TODO_APP_TOKEN, RESOURCES);
    CONTAINERS.forEach(GenericContainer::start);
  }

  /**
   * Builds {@code image} (local/daprd or local/sentry, 1.18.3) from {@code dockerfile} and the binary of
   * scripts/setup-daprd.sh unless the image is there already (scripts/build-images.sh, which the test command runs
   * first, builds both from the current binaries every time).
   */
  private static void ensureBinaryImage(DockerImageName image, String name, String dockerfile) throws IOException {
    try {
      DockerClientFactory.instance().client().inspectImageCmd(image.asCanonicalNameString()).exec();
      return;
    } catch (com.github.dockerjava.api.exception.NotFoundException missing) {
      // built below
    }
    Path binary = binary(name);
    System.err.println("building " + image.asCanonicalNameString() + " from " + binary);
    new ImageFromDockerfile(image.asCanonicalNameString(), false)
      .withFileFromPath("Dockerfile", ROOT.resolve(dockerfile))
      .withFileFromPath(name, binary)
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

  /**
   * {@code name} (daprd or sentry): -D{@code name}.binary, ${@code NAME}, or the cache of scripts/setup-daprd.sh
   * (~/.cache/todo-dapr/{@code name}-1.18.3-*).
   */
  private static Path binary(String name) throws IOException {
    for (String given : new String[] {System.getProperty(name + ".binary"), System.getenv(name.toUpperCase())}) {
      if (given != null && !given.isBlank() && Files.isExecutable(Path.of(given))) {
        return Path.of(given);
      }
    }
    Path cache = Path.of(System.getenv().getOrDefault("DAPR_CACHE_DIR",
      System.getProperty("user.home") + "/.cache/todo-dapr"));
    Path fixed = cache.resolve("dapr-" + DAPR_VERSION).resolve(name);
    if (Files.isExecutable(fixed)) {
      return fixed;
    }
    if (Files.isDirectory(cache)) {
      try (Stream<Path> dirs = Files.list(cache)) {
        Path built = dirs.filter(d -> d.getFileName().toString().startsWith(name + "-" + DAPR_VERSION + "-"))
          .map(d -> d.resolve(name)).filter(Files::isExecutable)
          .max(Comparator.comparing(p -> p.toFile().lastModified())).orElse(null);
        if (built != null) {
          return built;
        }
      }
    }
    throw new IllegalStateException("no " + name + " " + DAPR_VERSION + " binary: run scripts/setup-daprd.sh"
      + ("daprd".equals(name) ? "" : " " + name) + " first (or pass -D" + name + ".binary=/path/to/" + name + ")");
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

  /**
   * Sentry on the issuer credentials in {@code credentials} (mounted at /credentials), with the project's Sentry
   * configuration (dapr/security/sentry.yaml, whose ${VARS} Sentry expands from its environment). Sentry makes the
   * credentials when they are not there.
   */
  private static GenericContainer<?> sentry(Path credentials) {
    return new GenericContainer<>(SENTRY)
      .withFileSystemBind(credentials.toString(), "/credentials")
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/security/sentry.yaml")),
        "/dapr/security/sentry.yaml")
      .withEnv("SENTRY_WORKLOAD_CERT_TTL", "24h")
      .withEnv("SENTRY_ALLOWED_CLOCK_SKEW", "15m")
      .withCommand("--config", "/dapr/security/sentry.yaml", "--issuer-credentials", "/credentials",
        "--trust-domain", "localhost", "--port", "50001", "--healthz-port", "8080", "--metrics-port", "9090");
  }

  /**
   * Makes this run's CA in {@code credentials}: a Sentry of its own generates ca.crt, issuer.crt and issuer.key there
   * (files 0600 of Sentry's user) and is stopped. Returns the PEM of ca.crt, read from the folder, or through Docker
   * when the files are not readable by this user (a test not run as root).
   */
  private static String generateIssuerCredentials(Path credentials) throws IOException {
    try (GenericContainer<?> generator = sentry(credentials)
        .waitingFor(Wait.forLogMessage(".*CA certificate key pair ready.*", 1)
          .withStartupTimeout(Duration.ofSeconds(30)))) {
      generator.start();
      for (String file : List.of("ca.crt", "issuer.crt", "issuer.key")) {
        assertTrue(Files.size(credentials.resolve(file)) > 0, "Sentry did not write " + file);
      }
      Path ca = credentials.resolve("ca.crt");
      String pem = Files.isReadable(ca) ? Files.readString(ca)
        : generator.copyFileFromContainer("/credentials/ca.crt",
          in -> new String(in.readAllBytes(), StandardCharsets.UTF_8));
      assertTrue(pem.contains("BEGIN CERTIFICATE"), "ca.crt is not a PEM certificate");
      return pem;
    }
  }

  /**
   * A daprd container (network alias {@code alias}) with mTLS (its certificate from Sentry, this run's CA as its trust
   * anchors), the name resolution of dapr/config.yaml on the shared folder, and the given further arguments.
   */
  private static GenericContainer<?> daprd(String alias, String appId, List<String> arguments) {
    List<String> command = new ArrayList<>(List.of("--app-id", appId,
      "--dapr-http-port", "3500", "--dapr-grpc-port", "50001", "--dapr-internal-grpc-port", "50002",
      "--metrics-port", "9090", "--dapr-listen-addresses", "0.0.0.0", "--config", "/dapr/config.yaml",
      "--enable-mtls", "--sentry-address", "sentry:50001", "--enable-api-logging"));
    command.addAll(arguments);
    return new GenericContainer<>(DAPRD)
      .withNetwork(network)
      .withNetworkAliases(alias)
      // The address this sidecar registers for the others to reach it: its name on the network.
      .withEnv("DAPR_HOST_IP", alias)
      // The CA that signs Sentry's certificate and every sidecar's: there is an environment variable, no flag.
      .withEnv("DAPR_TRUST_ANCHORS", trustAnchors)
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/config.yaml")), "/dapr/config.yaml")
      .withFileSystemBind(nameResolution.toString(), "/nr")
      .withWorkingDirectory("/nr")
      .withCommand(command.toArray(String[]::new))
      .withExposedPorts(3500)
      // /v1.0/healthz answers without the API token.
      .waitingFor(Wait.forHttp("/v1.0/healthz").forPort(3500).forStatusCode(204)
        .withStartupTimeout(Duration.ofSeconds(90)));
  }

  /**
   * The sidecar of {@code appId}'s container {@code appAlias}: as scripts/run.sh runs it, with its resource folders
   * ({@code resources}, paths under the repository, mounted at the same path under /) and, after dapr/config.yaml,
   * the app's access control (dapr/security/{@code appId}.yaml: {@code --config} may be
   * repeated, the files are merged in order); {@code daprToken} is what its app must send, {@code appToken} what it
   * sends its app.
   */
  private static GenericContainer<?> sidecar(String appAlias, String appId, int appPort, String daprToken,
                                             String appToken, List<String> resources) {
    List<String> arguments = new ArrayList<>(List.of("--app-port", String.valueOf(appPort),
      "--app-channel-address", appAlias));
    for (String folder : resources) {
      arguments.addAll(List.of("--resources-path", "/" + folder));
    }
    arguments.addAll(List.of("--config", "/dapr/security/" + appId + ".yaml"));
    GenericContainer<?> daprd = daprd(appAlias + "-dapr", appId, arguments)
      // Read by the Redis-backed components (envRef), as scripts/run.sh passes it.
      .withEnv("REDIS_HOST", "redis:6379")
      .withEnv("DAPR_API_TOKEN", daprToken)
      .withEnv("APP_API_TOKEN", appToken)
      .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("dapr/security")), "/dapr/security");
    for (String folder : resources) {
      daprd.withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve(folder)), "/" + folder);
    }
    CONTAINERS.add(daprd);
    return daprd;
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
    for (Path folder : new Path[] {nameResolution, issuerCredentials}) {
      if (folder == null) {
        continue;
      }
      try (Stream<Path> files = Files.walk(folder)) {
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
        url(served, 8001, "/notifications?task_id=" + task.getString("id")))
      .header(TOKEN_HEADER, NOTIFICATION_APP_TOKEN).timeout(Duration.ofSeconds(30)).build());
    assertEquals(200, seen.statusCode(), seen.body());
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
    double byOutboxWhileDown;
    try {
      for (GenericContainer<?> replica : REPLICAS) {
        outage.takeDown(replica);
      }
      double retriedBefore = notifications("outbox_retries");
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
      // Stopped: refused at once (the replicas' names no longer resolve), not cut at todo-api's notify timeout.
      // Paused: the frozen replicas never answer, so the 201 itself says the call was cut at a timeout.
      if (outage == Outage.STOPPED) {
        assertNotEquals("SIDECAR_TIMEOUT", notification.getString("error"), notification::encode);
      }
      System.err.println(outage + ": create with every replica down answered 201 in " + took.toMillis()
        + " ms, notification " + notification.encode());
      // The outbox publishes it about a second after the transaction: its subscriber tries it while the replicas
      // are down (and answers RETRY) before they come back.
      awaitCondition("todo-api's outbox subscriber tried it while every replica was " + outage,
        () -> notifications("outbox_retries") > retriedBefore);
      byOutboxWhileDown = notifications("delivered_by_outbox");
    } finally {
      // Whatever happened above, the replicas come back, so the other tests find them running.
      for (GenericContainer<?> replica : REPLICAS) {
        Outage.bringBack(replica);
      }
    }
    long back = System.nanoTime();
    double byOutboxBefore = byOutboxWhileDown;
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

    // Exactly once, once nothing can send it again: the requests held by paused replicas were in their sockets when
    // they came back, so they are read first; todo-api's subscriber acknowledges the event (and Dapr stops
    // redelivering it, pubsub.yaml: redeliverInterval 5 s) only once a replica answered it delivered (or a repeat).
    awaitCondition("todo-api's outbox subscriber answered the event delivered",
      () -> notifications("delivered_by_outbox") > byOutboxBefore);
    counts = receivedAtEachReplica(notificationId);
    assertEquals(1, counts[0] + counts[1]);
    assertTrue(counts[0] == 0 || counts[1] == 0, "one replica has it");
  }

  /**
   * How many times each replica received {@code notificationId} (GET /notifications?notification_id=..., with the
   * replicas' APP_API_TOKEN: they answer only their sidecar, or whoever holds its token).
   */
  private static int[] receivedAtEachReplica(String notificationId) throws Exception {
    int[] counts = new int[REPLICAS.size()];
    for (int i = 0; i < counts.length; i++) {
      HttpResponse<String> seen = send(HttpRequest.newBuilder(url(REPLICAS.get(i), 8001,
          "/notifications?notification_id=" + URLEncoder.encode(notificationId, StandardCharsets.UTF_8)))
        .header(TOKEN_HEADER, NOTIFICATION_APP_TOKEN).timeout(Duration.ofSeconds(10)).build());
      assertEquals(200, seen.statusCode(), seen.body());
      counts[i] = new JsonObject(seen.body()).getJsonArray("recent").size();
    }
    return counts;
  }

  /** todo-api's {@code todo_notifications_total{outcome}} (its /metrics). */
  private static double notifications(String outcome) throws Exception {
    HttpResponse<String> scrape = send(HttpRequest.newBuilder(url(todoApi, 8000, "/metrics"))
      .timeout(Duration.ofSeconds(10)).build());
    assertEquals(200, scrape.statusCode(), scrape.body());
    java.util.regex.Matcher sample = java.util.regex.Pattern.compile("(?m)^todo_notifications_total\\{outcome=\""
      + outcome + "\"\\} (\\S+)$").matcher(scrape.body());
    return sample.find() ? Double.parseDouble(sample.group(1)) : 0;
  }

  /** Polls {@code condition} until it holds; fails after DELIVERY_BOUND, a limit only reached if it never does. */
  private static void awaitCondition(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + DELIVERY_BOUND.toNanos();
    while (!condition.call()) {
      assertTrue(System.nanoTime() < deadline, "not within " + DELIVERY_BOUND.toSeconds() + " s: " + what);
      Thread.sleep(250);
    }
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

  /**
   * APP_API_TOKEN: a replica answers only its sidecar. {@code POST /notify} straight to a replica's port, without the
   * token or with another, is refused with 401 UNAUTHORIZED and delivers nothing; its health routes stay open.
   */
  @Test
  void aReplicaRefusesANotifyWithoutItsSidecarsToken() throws Exception {
    String notificationId = "direct-" + UUID.randomUUID();
    String body = new JsonObject().put("message", "Straight to the replica").put("notification_id", notificationId)
      .encode();
    GenericContainer<?> replica = REPLICAS.get(0);
    for (String token : new String[] {null, newToken()}) {
      HttpRequest.Builder notify = HttpRequest.newBuilder(url(replica, 8001, "/notify"))
        .header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofString(body));
      if (token != null) {
        notify.header(TOKEN_HEADER, token);
      }
      HttpResponse<String> refused = send(notify.build());
      assertEquals(401, refused.statusCode(), refused.body());
      assertEquals("UNAUTHORIZED", new JsonObject(refused.body()).getString("error"), refused.body());
    }
    HttpResponse<String> list = send(HttpRequest.newBuilder(url(replica, 8001, "/notifications"))
      .timeout(Duration.ofSeconds(10)).build());
    assertEquals(401, list.statusCode(), "GET /notifications without the token: " + list.body());
    HttpResponse<String> health = send(HttpRequest.newBuilder(url(replica, 8001, "/health"))
      .timeout(Duration.ofSeconds(10)).build());
    assertEquals(200, health.statusCode(), "GET /health needs no token: " + health.body());
    int[] counts = receivedAtEachReplica(notificationId);
    assertEquals(0, counts[0] + counts[1], "the refused notification was delivered");
  }

  /**
   * DAPR_API_TOKEN: todo-api's sidecar answers only callers with its token (401 "invalid api token" otherwise), except
   * on /v1.0/healthz; and todo-api's routes for its sidecar (/dapr/*) need the sidecar's APP_API_TOKEN, while /tasks
   * is public.
   */
  @Test
  void todoApisSidecarAndItsSidecarRoutesRefuseCallersWithoutTheirTokens() throws Exception {
    HttpResponse<String> refused = send(HttpRequest.newBuilder(url(todoApiSidecar, 3500, "/v1.0/metadata"))
      .timeout(Duration.ofSeconds(10)).build());
    assertEquals(401, refused.statusCode(), refused.body());
    assertTrue(refused.body().contains("invalid api token"), refused.body());
    HttpResponse<String> wrong = send(HttpRequest.newBuilder(url(todoApiSidecar, 3500, "/v1.0/metadata"))
      .header(TOKEN_HEADER, newToken()).timeout(Duration.ofSeconds(10)).build());
    assertEquals(401, wrong.statusCode(), wrong.body());
    HttpResponse<String> answered = send(HttpRequest.newBuilder(url(todoApiSidecar, 3500, "/v1.0/metadata"))
      .header(TOKEN_HEADER, TODO_DAPR_TOKEN).timeout(Duration.ofSeconds(10)).build());
    assertEquals(200, answered.statusCode(), answered.body());
    assertEquals("todo-api", new JsonObject(answered.body()).getString("id"));

    HttpResponse<String> subscribe = send(HttpRequest.newBuilder(url(todoApi, 8000, "/dapr/subscribe"))
      .timeout(Duration.ofSeconds(10)).build());
    assertEquals(401, subscribe.statusCode(), subscribe.body());
    assertEquals("UNAUTHORIZED", new JsonObject(subscribe.body()).getString("error"), subscribe.body());
    HttpResponse<String> missing = send(HttpRequest.newBuilder(url(todoApi, 8000, "/tasks/no-such-task"))
      .timeout(Duration.ofSeconds(10)).build());
    assertEquals(404, missing.statusCode(), "/tasks is public: " + missing.body());
  }

  /**
   * Access control over mTLS: a sidecar with another app id ({@code intruder}, a certificate from the same Sentry) that
   * invokes notification-service's {@code POST /notify} is refused by the callee's sidecar (dapr/security/
   * notification-service.yaml: only todo-api), with 403 ERR_DIRECT_INVOKE PermissionDenied, and nothing is delivered.
   */
  @Test
  void anotherAppIdIsDeniedByNotificationServicesAccessControl() throws Exception {
    String notificationId = "intruder-" + UUID.randomUUID();
    try (GenericContainer<?> intruder = daprd("intruder-dapr", "intruder", List.of())) {
      intruder.start();
      HttpResponse<String> denied = send(HttpRequest.newBuilder(
          url(intruder, 3500, "/v1.0/invoke/notification-service/method/notify"))
        .header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("message", "From an intruder")
          .put("notification_id", notificationId).encode())).build());
      assertEquals(403, denied.statusCode(), denied.body());
      assertTrue(denied.body().contains("ERR_DIRECT_INVOKE"), denied.body());
      assertTrue(denied.body().contains("PermissionDenied"), denied.body());
    }
    int[] counts = receivedAtEachReplica(notificationId);
    assertEquals(0, counts[0] + counts[1], "the intruder's notification was delivered");
  }

  /**
   * The lesson's exercise: a completed task is charged at the billing-service container, across the namespace
   * ({@code billing-service.billing}, its sidecar in namespace billing) under mTLS and its access control; its ledger
   * (GET /charges/{charge_id} on the app, with the app token) holds the charge once.
   */
  @Test
  void aCompletedTaskIsChargedOnceAtTheBillingServiceContainerAcrossTheNamespace() throws Exception {
    HttpResponse<String> created = send(HttpRequest.newBuilder(url(todoApi, 8000, "/tasks"))
      .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
      .POST(HttpRequest.BodyPublishers.ofString("{\"title\":\"Charged in a container\"}")).build());
    assertEquals(201, created.statusCode(), created.body());
    String id = new JsonObject(created.body()).getString("id");
    HttpResponse<String> completed = send(HttpRequest.newBuilder(url(todoApi, 8000, "/tasks/" + id))
      .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
      .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"status\":\"completed\"}")).build());
    assertEquals(200, completed.statusCode(), completed.body());
    JsonObject charge = new JsonObject(completed.body()).getJsonObject("billing");
    assertEquals("charged", charge.getString("status"), charge::encode);
    String chargeId = charge.getString("charge_id");

    HttpResponse<String> ledger = send(HttpRequest.newBuilder(url(billing, 8002,
        "/charges/" + java.net.URLEncoder.encode(chargeId, StandardCharsets.UTF_8)))
      .header(TOKEN_HEADER, BILLING_APP_TOKEN).timeout(Duration.ofSeconds(30)).build());
    assertEquals(200, ledger.statusCode(), ledger.body());
    assertEquals(id, new JsonObject(ledger.body()).getString("task_id"), ledger.body());
    assertEquals(1, billing.getLogs().lines().filter(l -> l.contains("Charge recorded: " + chargeId + " ")).count(),
      "billing-service's Charge recorded lines for " + chargeId);
  }

  @Test
  void everyContainerRunsAsANonRootUser() throws Exception {
    for (GenericContainer<?> container : CONTAINERS) {
      String user = container.getContainerInfo().getConfig().getUser();
      assertTrue(user != null && !user.isBlank() && !user.startsWith("0") && !user.startsWith("root"),
        container.getDockerImageName() + " runs as '" + user + "'");
    }
    for (GenericContainer<?> app : List.of(todoApi, REPLICAS.get(0), billing)) {
      String uid = app.execInContainer("id", "-u").getStdout().strip();
      assertNotEquals("0", uid, app.getDockerImageName().toString());
      assertEquals("10001", uid);
    }
  }
}
