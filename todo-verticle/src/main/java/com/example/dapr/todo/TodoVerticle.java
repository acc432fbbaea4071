package com.example.dapr.todo;

import com.example.dapr.http.AppApiToken;
import com.example.dapr.http.Env;
import com.example.dapr.http.JsonErrors;
import com.example.dapr.http.Logging;
import com.example.dapr.http.Observability;
import com.example.dapr.http.ServiceHttpServer;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;

import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * todo-api: stores tasks in the Dapr state store and announces them to notification-service, both through its Dapr
 * sidecar's HTTP API and nothing else. Each notification is saved with its task through Dapr's transactional outbox
 * and sent at once; what that first attempt does not deliver, the outbox does ({@link OutboxSubscriber}).
 */
public class TodoVerticle extends VerticleBase {

  static {
    Logging.configure();
  }

  private static final Logger LOG = Logger.getLogger(TodoVerticle.class.getName());

  private final TodoConfig config;
  private SidecarClient sidecar;
  private NotificationDelivery delivery;
  private ChargeDelivery charges;
  private OutboxCheck outboxCheck;
  private HttpServer server;
  private volatile boolean draining;

  public TodoVerticle() {
    this(TodoConfig.from(Env.system()));
  }

  public TodoVerticle(TodoConfig config) {
    this.config = config;
  }

  @Override
  public Future<?> start() {
    if (context.getInstanceCount() > 1) {
      // Breakers and the record of delivered notifications belong to the process; N instances would keep N of each.
      return Future.failedFuture(new IllegalStateException("todo-api runs as one verticle instance per process, not "
        + context.getInstanceCount() + " (--instances): scale with more processes or replicas instead"));
    }
    sidecar = new SidecarClient(vertx, config);
    delivery = new NotificationDelivery(sidecar, config.notifications().rememberDelivered());
    outboxCheck = new OutboxCheck(vertx, sidecar, config.sidecar().stateStore(), config.resilience().stateTimeoutMs());
    TaskStore store = new TaskStore(sidecar, outboxCheck);
    charges = new ChargeDelivery(vertx, config);
    TaskHandlers tasks = new TaskHandlers(store, delivery, charges, config.billing().enabled());
    OutboxSubscriber outbox = new OutboxSubscriber(config.notifications(), sidecar.pubsub(), store, delivery, charges);

    Router router = Router.router(vertx);
    JsonErrors.install(router, failure -> SidecarErrors.toApi(failure, config.resilience().breakerResetMs()));
    router.route().handler(Observability::nameSpansByRoute);
    // While stopping, every answer closes its connection: a client then opens its next one to a pod still ready,
    // instead of sending it on a kept-alive connection that the listener closes at the end of SHUTDOWN_DELAY_MS.
    router.route().handler(ctx -> {
      if (draining) {
        ctx.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
      }
      ctx.next();
    });
    // Each route carries its whole chain (body, token, handler): its template is then the one route label of its
    // metrics and the name of its spans ("/tasks/:id", not "/tasks*>/tasks/:id").
    Handler<RoutingContext> body = BodyHandler.create(false).setBodyLimit(config.maxBodyBytes());
    router.post("/tasks").handler(body).handler(tasks::create);
    router.get("/tasks/:id").handler(tasks::get);
    router.put("/tasks/:id").handler(body).handler(tasks::update);
    router.patch("/tasks/:id").handler(body).handler(tasks::update);
    // The routes only the sidecar calls answer only the sidecar (APP_API_TOKEN); /tasks is the public API.
    Handler<RoutingContext> sidecarOnly = AppApiToken.require(config.sidecar().appApiToken(),
      "/dapr/subscribe and " + OutboxSubscriber.ROUTE);
    router.get("/dapr/subscribe").handler(sidecarOnly).handler(outbox::subscriptions);
    // A bulk of up to 500 events, each a CloudEvent around a notification of at most a few kB.
    router.post(OutboxSubscriber.ROUTE).handler(sidecarOnly)
      .handler(BodyHandler.create(false).setBodyLimit(OutboxSubscriber.MAX_BULK_BYTES)).handler(outbox::receive);
    // Anything else under /dapr (the sidecar probes for routes it may use): the sidecar's, like the rest.
    router.route("/dapr/*").handler(sidecarOnly);
    router.get("/health").handler(this::health);
    router.get("/health/live").handler(liveness());
    router.get("/health/ready").handler(readiness());
    // Prometheus's scrape: Vert.x's HTTP server and client timings (by route, by sidecar target), the breakers and
    // what became of notifications (TodoMetrics). Public, like /health: counts only, no task data.
    router.get(Observability.METRICS_PATH).handler(Observability.metricsHandler());
    TodoMetrics.register(Observability.registry(), sidecar);
    delivery.bindTo(Observability.registry());
    charges.bindTo(Observability.registry());

    server = ServiceHttpServer.create(vertx, new HttpServerOptions().setTcpNoDelay(true),
      config.requestReadTimeoutMs(), router);
    TodoConfig.Notifications n = config.notifications();
    // The outbox check starts once todo-api listens: daprd waits for the app's port before it is fully up.
    return server.listen(config.port())
      .onSuccess(s -> LOG.info(() -> "todo-api listening on port " + s.actualPort() + "; Dapr sidecar at "
        + config.sidecar().host() + ":" + config.sidecar().httpPort() + ", state store '"
        + config.sidecar().stateStore() + "' (its outbox checked next), notifications to '" + n.appId() + "/" + n.method()
        + "' (" + n.invokeMode().name().toLowerCase() + " form) and from '" + n.pubsub() + "/" + n.topic() + "', "
        + (config.billing().enabled() ? "completions charged at '" + config.billing().appId() + "/"
          + config.billing().method() + "'" : "completions not charged (CHARGES=off)")))
      .onSuccess(s -> outboxCheck.start());
  }

  /**
   * On SIGTERM (Vert.x undeploys on shutdown): readiness answers 503 for {@code SHUTDOWN_DELAY_MS} while requests are
   * still served (each answer with {@code Connection: close}, so that clients leave for other pods), then the listener stops accepting and the requests in flight get {@code SHUTDOWN_TIMEOUT_MS} to
   * finish. Nothing is kept in memory that a stop could lose: undelivered notifications are in the outbox.
   */
  @Override
  public Future<?> stop() {
    draining = true;
    LOG.info(() -> "stopping: readiness is DOWN; requests are served for " + config.shutdownDelayMs()
      + " ms more, then in-flight requests get up to " + config.shutdownTimeoutMs() + " ms");
    Future<Void> closed = server == null ? Future.succeededFuture()
      : vertx.timer(Math.max(1, config.shutdownDelayMs()))
        .compose(t -> server.shutdown(config.shutdownTimeoutMs(), TimeUnit.MILLISECONDS));
    return closed.onComplete(ar -> {
      LOG.info("stopped: every request answered");
      if (sidecar != null) {
        sidecar.close();
      }
      if (charges != null) {
        charges.close();
      }
    });
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

  /**
   * Ready when the sidecar is ({@code /v1.0/healthz/outbound}), the state store was found to have the outbox
   * ({@link OutboxCheck}) and the process is not stopping; the breakers and what became of notifications and charges
   * are reported. billing-service down does not make todo-api unready: its charges wait in the outbox.
   */
  private HealthCheckHandler readiness() {
    return HealthCheckHandler.create(vertx)
      .register("shutdown", promise -> promise.complete(draining ? Status.KO(new JsonObject().put("stopping", true))
        : Status.OK()))
      // tryComplete: when the sidecar is slower than the health check's own timeout, Vert.x has already completed the
      // promise (as KO), and completing it again throws.
      .register("dapr-sidecar", promise -> sidecar.outboundHealth().onComplete(ar -> promise.tryComplete(ar.succeeded()
        ? Status.OK()
        : Status.KO(new JsonObject().put("error", String.valueOf(ar.cause().getMessage()))))))
      .register("state-store-outbox", promise -> promise.complete(outboxCheck.status()))
      .register("circuit-breakers", promise -> promise.complete(Status.OK(new JsonObject()
        .put("state_store", sidecar.stateBreakerState().name())
        .put("notification_service", sidecar.invokeBreakerState().name())
        .put("billing_service", charges.breakerState().name())
        // Why a breaker that is not closed opened: the failures by cause, the last one, since and until when.
        .put("open_because", openBecause()))))
      .register("notifications", promise -> promise.complete(Status.OK(delivery.toJson())))
      .register("charges", promise -> promise.complete(Status.OK(charges.toJson()
        .put("enabled", config.billing().enabled()))));
  }

  private JsonObject openBecause() {
    JsonObject why = sidecar.breakersWhy();
    JsonObject billing = charges.breakerWhy();
    return billing == null ? why : why.put("billing_service", billing);
  }
}
