package com.example.dapr.todo;

import com.example.dapr.http.Env;
import com.example.dapr.http.JsonErrors;
import com.example.dapr.http.Logging;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.util.logging.Logger;

/**
 * todo-api: stores tasks in the Dapr state store and announces them to notification-service, both through its Dapr
 * sidecar's HTTP API and nothing else.
 */
public class TodoVerticle extends VerticleBase {

  static {
    Logging.configure();
  }

  private static final Logger LOG = Logger.getLogger(TodoVerticle.class.getName());

  private final TodoConfig config;
  private SidecarClient sidecar;
  private TaskNotifier notifier;
  private HttpServer server;

  public TodoVerticle() {
    this(TodoConfig.from(Env.system()));
  }

  public TodoVerticle(TodoConfig config) {
    this.config = config;
  }

  @Override
  public Future<?> start() {
    sidecar = new SidecarClient(vertx, config);
    notifier = new TaskNotifier(vertx, sidecar, config);
    TaskHandlers tasks = new TaskHandlers(sidecar, notifier);

    Router router = Router.router(vertx);
    JsonErrors.install(router, failure -> SidecarErrors.toApi(failure, config.breakerResetMs()));
    router.route("/tasks*").handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes()));
    router.post("/tasks").handler(tasks::create);
    router.get("/tasks/:id").handler(tasks::get);
    router.put("/tasks/:id").handler(tasks::update);
    router.patch("/tasks/:id").handler(tasks::update);
    router.get("/health").handler(this::health);
    router.get("/health/live").handler(liveness());
    router.get("/health/ready").handler(readiness());

    server = vertx.createHttpServer(new HttpServerOptions().setTcpNoDelay(true));
    return server.requestHandler(router)
      .listen(config.port())
      .onSuccess(s -> LOG.info(() -> "todo-api listening on port " + s.actualPort() + "; Dapr sidecar at "
        + config.sidecarHost() + ":" + config.sidecarHttpPort() + ", state store '" + config.stateStore()
        + "', notifications to '" + config.notificationAppId() + "/" + config.notifyMethod() + "' ("
        + config.invokeMode().name().toLowerCase() + " form)"));
  }

  @Override
  public Future<?> stop() {
    if (sidecar != null) {
      sidecar.close();
    }
    return Future.succeededFuture();
  }

  /** The actual port, useful when APP_PORT is 0 (tests). */
  public int actualPort() {
    return server.actualPort();
  }

  private void health(RoutingContext ctx) {
    ctx.response()
      .putHeader("Content-Type", "application/json")
      .end(new JsonObject().put("status", "healthy").encode());
  }

  private HealthCheckHandler liveness() {
    return HealthCheckHandler.create(vertx)
      .register("event-loop", promise -> promise.complete(Status.OK()));
  }

  /** Ready when the sidecar is ({@code /v1.0/healthz/outbound}); the breakers and redelivery queue are reported. */
  private HealthCheckHandler readiness() {
    return HealthCheckHandler.create(vertx)
      .register("dapr-sidecar", promise -> sidecar.outboundHealth().onComplete(ar -> promise.complete(ar.succeeded()
        ? Status.OK()
        : Status.KO(new JsonObject().put("error", String.valueOf(ar.cause().getMessage()))))))
      .register("circuit-breakers", promise -> promise.complete(Status.OK(new JsonObject()
        .put("state_store", sidecar.stateBreakerState().name())
        .put("notification_service", sidecar.invokeBreakerState().name())
        .put("notifications_pending_redelivery", notifier.pending()))));
  }
}
