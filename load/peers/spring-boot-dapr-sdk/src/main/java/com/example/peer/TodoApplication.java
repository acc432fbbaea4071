package com.example.peer;

import io.dapr.client.DaprClient;
import io.dapr.client.DaprClientBuilder;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * todo-api as a Spring Boot (MVC) service with the Dapr Java SDK, the way the Dapr docs show it: one DaprClient
 * (built from DAPR_HTTP_PORT, DAPR_GRPC_PORT and DAPR_API_TOKEN, which the SDK reads from the environment), a
 * controller that saves the task with {@code saveState(...).block()} and notifies notification-service with
 * {@code invokeMethod(..., HttpExtension.POST, ...).block()}. The port: {@code server.port} (SERVER_PORT).
 */
@SpringBootApplication
public class TodoApplication {

  public static void main(String[] args) {
    SpringApplication.run(TodoApplication.class, args);
  }

  @Bean(destroyMethod = "close")
  public DaprClient daprClient() {
    return new DaprClientBuilder().build();
  }
}
