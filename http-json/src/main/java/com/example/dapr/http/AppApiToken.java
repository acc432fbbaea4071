package com.example.dapr.http;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.SecurityPolicyHandler;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.logging.Logger;

/**
 * Dapr's app API token ({@code APP_API_TOKEN}): when it is set on a sidecar, the sidecar sends it in the header
 * {@code dapr-api-token} with every call it makes to its app (service invocation, {@code GET /dapr/subscribe}, pub/sub
 * deliveries), so the app can refuse anything that did not come through its own sidecar. Dapr does not send it on its
 * app health probes, so health routes must stay open. The comparison takes the same time whatever the header holds.
 */
public final class AppApiToken {

  /** The header Dapr uses, both for this token and for {@code DAPR_API_TOKEN} (the app calling its sidecar). */
  public static final String HEADER = "dapr-api-token";

  private static final Logger LOG = Logger.getLogger(AppApiToken.class.getName());

  private AppApiToken() {
  }

  /**
   * A handler that passes a request on only when its {@code dapr-api-token} header equals {@code token}, and fails it
   * with 401 JSON ({@code UNAUTHORIZED}) otherwise. With {@code token} null (no APP_API_TOKEN), it lets everything
   * through and says so once in the log, naming {@code what} the token would protect.
   */
  public static Handler<RoutingContext> require(String token, String what) {
    if (token == null) {
      LOG.warning(() -> "APP_API_TOKEN is not set: " + what + " answer any caller, not only this app's Dapr sidecar");
      return (SecurityPolicyHandler) RoutingContext::next;
    }
    byte[] expected = token.getBytes(StandardCharsets.UTF_8);
    // A SecurityPolicyHandler, which Vert.x Web runs before a route's BodyHandler: a caller without the token is
    // refused before its body is read, on the same route as the handler it guards.
    return (SecurityPolicyHandler) ctx -> {
      String presented = ctx.request().getHeader(HEADER);
      if (presented != null && MessageDigest.isEqual(expected, presented.getBytes(StandardCharsets.UTF_8))) {
        ctx.next();
        return;
      }
      LOG.warning(() -> "refused " + ctx.request().method() + " " + ctx.request().path() + " from "
        + ctx.request().remoteAddress() + ": " + (presented == null ? "no" : "a wrong") + " " + HEADER + " header");
      ctx.fail(new ApiException(401, "UNAUTHORIZED", "this route answers only this service's Dapr sidecar: send the "
        + HEADER + " header with the sidecar's APP_API_TOKEN"));
    };
  }
}
