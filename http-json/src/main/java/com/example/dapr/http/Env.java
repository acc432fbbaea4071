package com.example.dapr.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Map;

/** Typed reads of environment variables, with the defaults built in and a clear message for a bad value. */
public final class Env {

  private final Map<String, String> values;

  public Env(Map<String, String> values) {
    this.values = Map.copyOf(values);
  }

  public static Env system() {
    return new Env(System.getenv());
  }

  /**
   * The name of this replica: REPLICA_ID, else HOSTNAME (the pod name on Kubernetes), else the host name, else
   * {@code <service>-<pid>}.
   */
  public String replica(String service) {
    return this.string("REPLICA_ID", this.string("HOSTNAME", localHostName(service)));
  }

  private static String localHostName(String service) {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return service + "-" + ProcessHandle.current().pid();
    }
  }

  public String string(String name, String defaultValue) {
    String value = values.get(name);
    return value == null || value.isBlank() ? defaultValue : value.strip();
  }

  public long number(String name, long defaultValue, long min, long max) {
    String value = string(name, null);
    if (value == null) {
      return defaultValue;
    }
    long parsed;
    try {
      parsed = Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number, got '" + value + "'");
    }
    if (parsed < min || parsed > max) {
      throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", got " + parsed);
    }
    return parsed;
  }

  /** A decimal number from {@code min} to {@code max}, such as a sampling ratio. */
  public double decimal(String name, double defaultValue, double min, double max) {
    String value = string(name, null);
    if (value == null) {
      return defaultValue;
    }
    double parsed;
    try {
      parsed = Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number, got '" + value + "'");
    }
    if (!(parsed >= min && parsed <= max)) {
      throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", got " + value);
    }
    return parsed;
  }

  public int port(String name, int defaultValue) {
    return (int) number(name, defaultValue, 1, 65535);
  }

  /** One of {@code allowed}, compared without case; the answer is the allowed spelling. */
  public String choice(String name, String defaultValue, String... allowed) {
    String value = string(name, defaultValue);
    for (String candidate : allowed) {
      if (candidate.equalsIgnoreCase(value)) {
        return candidate;
      }
    }
    throw new IllegalArgumentException(name + " must be one of " + String.join(", ", allowed) + ", got '" + value + "'");
  }
}
