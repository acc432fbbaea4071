package com.example.dapr.todo;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.json.JsonObject;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What became of one kind of delivery in this process, one count per outcome: readiness reports them ({@link #toJson})
 * and Micrometer reads them as {@code <meter>_total{outcome}} ({@link #bindTo}), the label being the outcome's name in
 * lower case.
 */
final class OutcomeCounts<E extends Enum<E>> {

  private final Map<E, LongAdder> counts;

  OutcomeCounts(Class<E> outcomes) {
    counts = new EnumMap<>(outcomes);
    for (E outcome : outcomes.getEnumConstants()) {
      counts.put(outcome, new LongAdder());
    }
  }

  void count(E outcome) {
    counts.get(outcome).increment();
  }

  JsonObject toJson() {
    JsonObject json = new JsonObject();
    counts.forEach((outcome, sum) -> json.put(label(outcome), sum.sum()));
    return json;
  }

  void bindTo(MeterRegistry registry, String meter, String description) {
    counts.forEach((outcome, sum) -> FunctionCounter.builder(meter, sum, LongAdder::sum).description(description)
      .tag("outcome", label(outcome)).register(registry));
  }

  private static String label(Enum<?> outcome) {
    return outcome.name().toLowerCase(Locale.ROOT);
  }
}
