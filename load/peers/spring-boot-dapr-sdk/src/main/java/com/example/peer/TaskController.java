package com.example.peer;

import io.dapr.client.DaprClient;
import io.dapr.client.domain.HttpExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

import java.util.Map;
import java.util.UUID;

/** POST /tasks: the seed's create, in Spring MVC with the Dapr Java SDK. */
@RestController
public class TaskController {

  /** The seed's Task: an id given here, a title, a status. */
  public record Task(String id, String title, String status) {
  }

  private static final Logger LOG = LoggerFactory.getLogger(TaskController.class);

  private final DaprClient client;

  public TaskController(DaprClient client) {
    this.client = client;
  }

  @PostMapping("/tasks")
  public Task createTask(@RequestBody Task request) {
    Task task = new Task(UUID.randomUUID().toString(), request.title(),
      request.status() == null ? "pending" : request.status());
    // Save state
    client.saveState("statestore", "task-" + task.id(), task).block();
    // Notify via service invocation
    Map<?, ?> response = client.invokeMethod("notification-service", "notify",
      Map.of("message", "Todo created: " + task.title(), "task_id", task.id()), HttpExtension.POST, Map.class).block();
    LOG.info("Notification response: {}", response);
    return task;
  }
}
