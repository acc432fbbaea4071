package com.example.dapr.billing;

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
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;

import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * billing-service. Its sidecar forwards {@code /v1.0/invoke/billing-service/method/charges} here as
 * {@code POST /charges}; the ledger is kept through the same sidecar's state API ({@link ChargeLedger}).
 */
public class BillingVerticle extends VerticleBase {

  static {
    Logging.configure();
  }

  private static final Logger LOG = Logger.getLogger(BillingVerticle.class.getName());

  private final BillingConfig config;
  private HttpServer server;
  private ChargeLedger ledger;

  public BillingVerticle() {
    this(BillingConfig.from(Env.system()));
  }

  public BillingVerticle(BillingConfig config) {
    this.config = config;
  }

  @Override
  public Future<?> start() {
    ledger = new ChargeLedger(vertx, config.ledger(), config.replica());
    ChargeHandlers charges = new ChargeHandlers(ledger, config.replica());

    Router router = Router.router(vertx);
    JsonErrors.install(router);
    router.route().handler(Observability::nameSpansByRoute);
    // Only this replica's sidecar may call it (APP_API_TOKEN): every route but the health routes, which Dapr probes
    // without the token, and /metrics. Who may call the sidecar's charges method is its access control's to say.
    Handler<RoutingContext> sidecarOnly = AppApiToken.require(config.appApiToken(), "/charges");
    router.post("/charges").handler(sidecarOnly)
      .handler(BodyHandler.create(false).setBodyLimit(config.maxBodyBytes())).handler(charges::charge);
    router.get("/charges/:charge_id").handler(sidecarOnly).handler(charges::find);
    router.get(Observability.METRICS_PATH).handler(Observability.metricsHandler());
    router.routeWithRegex("^(?!/health(/|$)|/metrics$).*").handler(sidecarOnly);
    router.get("/health").handler(this::health);
    router.get("/health/live").handler(HealthCheckHandler.create(vertx)
      .register("event-loop", promise -> promise.complete(Status.OK())));
    router.get("/health/ready").handler(HealthCheckHandler.create(vertx)
      .register("http-server", promise -> promise.complete(
        server != null && server.actualPort() > 0 ? Status.OK() : Status.KO())));

    server = ServiceHttpServer.create(vertx, new HttpServerOptions(), config.requestReadTimeoutMs(), router);
    return server.listen(config.port())
      .onSuccess(s -> LOG.info(() -> "billing-service replica " + config.replica() + " listening on port "
        + s.actualPort() + "; charges recorded once in state store '" + ledger.store() + "' through the sidecar at "
        + config.ledger().sidecarHost() + ":" + config.ledger().sidecarHttpPort()
        + (config.appApiToken() == null ? "" : "; only callers with its sidecar's APP_API_TOKEN are served")));
  }

  /** On SIGTERM: stop accepting and let the charges in flight finish (up to 10 s). */
  @Override
  public Future<?> stop() {
    Future<Void> closed = server == null ? Future.succeededFuture() : server.shutdown(10, TimeUnit.SECONDS);
    return closed.onComplete(ar -> ledger.close());
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
}
