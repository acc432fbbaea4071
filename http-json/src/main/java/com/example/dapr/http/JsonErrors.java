package com.example.dapr.http;

import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;

import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Turns every failure of a router into a JSON error body, so no client ever sees an HTML or empty error. */
public final class JsonErrors {

  private static final Logger LOG = Logger.getLogger(JsonErrors.class.getName());

  private JsonErrors() {
  }

  /** Installs the failure handler and the not-found / method-not-allowed answers on {@code router}. */
  public static void install(Router router) {
    install(router, failure -> null);
  }

  /**
   * As {@link #install(Router)}, with {@code translator} turning the service's own failures into API errors; it answers
   * null for a failure it does not know.
   */
  public static void install(Router router, Function<Throwable, ApiException> translator) {
    router.route().failureHandler(ctx -> {
      ApiException translated = ctx.failure() == null ? null : translator.apply(ctx.failure());
      send(ctx, translated != null ? translated : toApiException(ctx.failure(), ctx.statusCode(), ctx));
    });
    router.errorHandler(404, ctx -> send(ctx, new ApiException(404, "NOT_FOUND",
      "no route for " + ctx.request().method() + " " + ctx.request().path())));
    router.errorHandler(405, ctx -> send(ctx, new ApiException(405, "METHOD_NOT_ALLOWED",
      ctx.request().method() + " is not allowed on " + ctx.request().path())));
  }

  /** Writes {@code error} as the JSON answer, unless an answer has already started. */
  public static void send(RoutingContext ctx, ApiException error) {
    HttpServerResponse response = ctx.response();
    if (response.headWritten()) {
      // Nothing can be said any more: the status line is gone. Close rather than leave the client waiting.
      LOG.warning(() -> "failure after the response started on " + ctx.request().path() + ": " + error.getMessage());
      ctx.request().connection().close();
      return;
    }
    write(response, error);
  }

  /** Writes {@code error} as the whole answer: its status, its headers and its JSON body. */
  public static Future<Void> write(HttpServerResponse response, ApiException error) {
    error.headers().forEach(response::putHeader);
    return response.setStatusCode(error.status())
      .putHeader("Content-Type", "application/json")
      .end(error.toJson().encode());
  }

  private static ApiException toApiException(Throwable failure, int statusCode, RoutingContext ctx) {
    if (failure instanceof ApiException api) {
      return api;
    }
    int status = failure instanceof HttpException http ? http.getStatusCode() : statusCode;
    return switch (status) {
      case 400 -> ApiException.badRequest("BAD_REQUEST", messageOr(failure, "the request could not be read"));
      case 413 -> new ApiException(413, "PAYLOAD_TOO_LARGE", "the request body is larger than this service accepts");
      case 415 -> new ApiException(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
      default -> {
        LOG.log(Level.SEVERE, "unhandled failure on " + ctx.request().method() + " " + ctx.request().path(), failure);
        yield new ApiException(500, "INTERNAL_ERROR", "unexpected error; see the service log");
      }
    };
  }

  private static String messageOr(Throwable failure, String fallback) {
    return failure != null && failure.getMessage() != null ? failure.getMessage() : fallback;
  }
}
