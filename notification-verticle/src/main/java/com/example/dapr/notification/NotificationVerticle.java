package com.example.dapr.notification;

import com.example.dapr.http.AppApiToken;
import com.example.dapr.http.Env;
import com.example.dapr.http.JsonErrors;
import com.example.dapr.http.Logging;
import com.example.dapr.http.Observability;
import com.example.dapr.http.ServiceHttpServer;
import io.vertx.core.Future;
import io.vertx.core.Handler;
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
 * notification-service. Its sidecar forwards {@code /v1.0/invoke/notification-service/method/notify} here as
 * {@code POST /notify}; the record that makes each notification delivered once across replicas is kept through the
 * same sidecar's state API ({@link DeliveryRecords}).
 */
public class NotificationVerticle extends VerticleBase {

  static {
    Logging.configure();
  }

  private static final Logger LOG = Logger.getLogger(NotificationVerticle.class.getName());

  private final NotificationConfig config;
  private HttpServer server;
  private DeliveryRecords records;

  public NotificationVerticle() {
    this(NotificationConfig.from(Env.system()));
  }

  public NotificationVerticle(NotificationConfig config) {
    this.config = config;
  }

  @Override
  public Future<?> start() {
    DeliveryLog deliveries = vertx.sharedData().<String, DeliveryLog>getLocalMap("notification-service")
      .computeIfAbsent("deliveries-" + config.replica(), k -> new DeliveryLog(config.recentLimit()));
    Faults faults = vertx.sharedData().<String, Faults>getLocalMap("notification-service")
      .computeIfAbsent("faults-" + config.replica(), k -> new Faults());
    records = config.dedup().enabled() ? new DeliveryRecords(vertx, config.dedup(), config.replica()) : null;
    NotifyHandler notify = new NotifyHandler(vertx, config.replica(), deliveries, records, faults);

    Router router = Router.router(vertx);
    JsonErrors.install(router);
    router.route().handler(Observability::nameSpansByRoute);
    // Only this replica's sidecar may call it (APP_API_TOKEN), checked first on each route: every route but the health
    // routes, which Dapr probes without the token, and /metrics (counts only, for Prometheus). Each route carries its
    // whole chain, so that its template is its one route label in /metrics and its span's name.
    Handler<RoutingContext> sidecarOnly = AppApiToken.require(config.appApiToken(), "/notify, /notifications and /faults");
    router.post("/notify").handler(sidecarOnly).handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes()))
      .handler(notify::notify);
    router.get("/notifications").handler(sidecarOnly).handler(notify::list);
    if (config.faultInjection()) {
      router.put("/faults").handler(sidecarOnly).handler(BodyHandler.create(false).setBodyLimit(1_024))
        .handler(faults::set);
    }
    router.get(Observability.METRICS_PATH).handler(Observability.metricsHandler());
    // Any other path answers the sidecar only, too (then 404).
    router.routeWithRegex("^(?!/health(/|$)|/metrics$).*").handler(sidecarOnly);
    router.get("/health").handler(this::health);
    router.get("/health/live").handler(liveness());
    router.get("/health/ready").handler(readiness());

    server = ServiceHttpServer.create(vertx, new HttpServerOptions(), config.requestReadTimeoutMs(), router);
    return server.listen(config.port())
      .onSuccess(s -> LOG.info(() -> "notification-service replica " + config.replica()
        + " listening on port " + s.actualPort() + (records == null ? "; deduplication off"
        : "; delivered once, recorded in state store '" + config.dedup().store() + "' through the sidecar at "
        + config.dedup().sidecarHost() + ":" + config.dedup().sidecarHttpPort())
        + (config.faultInjection() ? "; FAULT_INJECTION on (PUT /faults)" : "")
        + (config.appApiToken() == null ? "" : "; only callers with its sidecar's APP_API_TOKEN are served")));
  }

  /**
   * On SIGTERM (Vert.x undeploys on shutdown): stop accepting, let the notifications in flight finish (up to 10 s), and
   * record the answers still waiting to be recorded, so that a graceful stop never leaves a notification delivered
   * without its record (see {@link DeliveryRecords}).
   */
  @Override
  public Future<?> stop() {
    Future<Void> closed = server == null ? Future.succeededFuture()
      : server.shutdown(10, java.util.concurrent.TimeUnit.SECONDS);
    if (records == null) {
      return closed;
    }
    return closed.transform(ar -> records.flush())
      .onComplete(ar -> records.close());
  }

  /** The actual port, useful when APP_PORT is 0 (tests). */
  public int actualPort() {
    return server.actualPort();
  }

  private void health(RoutingContext ctx) {
    ctx.response()
      .putHeader("Content-Type", "application/json")
      .end(new JsonObject().put("status", "healthy").put("replica", config.replica()).encode());
  }

  private HealthCheckHandler liveness() {
    return HealthCheckHandler.create(vertx)
      .register("event-loop", promise -> promise.complete(Status.OK()));
  }

  private HealthCheckHandler readiness() {
    // Nothing downstream: ready as soon as the server accepts requests, which is when this route can answer.
    return HealthCheckHandler.create(vertx)
      .register("http-server", promise -> promise.complete(
        server != null && server.actualPort() > 0 ? Status.OK() : Status.KO()));
  }
}
