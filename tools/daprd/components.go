package main

// The components this project's sidecars load, and nothing else. Each line is the init() of the matching file in
// github.com/dapr/dapr/cmd/daprd/components (state_in-memory.go, state_redis.go, pubsub_redis.go,
// nameresolution_*.go, secretstores_local_*.go, secretstores_kubernetes.go). A component type that is not registered
// here fails at load with "couldn't find state store state.<type>/v1".

import (
	nrKubernetes "github.com/dapr/components-contrib/nameresolution/kubernetes"
	nrMdns "github.com/dapr/components-contrib/nameresolution/mdns"
	nrSqlite "github.com/dapr/components-contrib/nameresolution/sqlite"
	pubsubRedis "github.com/dapr/components-contrib/pubsub/redis"
	secretKubernetes "github.com/dapr/components-contrib/secretstores/kubernetes"
	secretEnv "github.com/dapr/components-contrib/secretstores/local/env"
	secretFile "github.com/dapr/components-contrib/secretstores/local/file"
	stateInMemory "github.com/dapr/components-contrib/state/in-memory"
	stateRedis "github.com/dapr/components-contrib/state/redis"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	secretstoresLoader "github.com/dapr/dapr/pkg/components/secretstores"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

func registerComponents() {
	stateLoader.DefaultRegistry.RegisterComponent(stateInMemory.NewInMemoryStateStore, "in-memory")
	stateLoader.DefaultRegistry.RegisterComponent(stateRedis.NewRedisStateStore, "redis")
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubRedis.NewRedisStreams, "redis")
	nrLoader.DefaultRegistry.RegisterComponent(nrSqlite.NewResolver, "sqlite")
	nrLoader.DefaultRegistry.RegisterComponent(nrMdns.NewResolver, "mdns")
	nrLoader.DefaultRegistry.RegisterComponent(nrKubernetes.NewResolver, "kubernetes")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretEnv.NewEnvSecretStore, "local.env")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretFile.NewLocalSecretStore, "local.file")
	// Kubernetes mode preloads Dapr's built-in secret store "kubernetes" and exits without it; the manifests' Redis
	// Components read their password through it (auth.secretStore: kubernetes).
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretKubernetes.NewKubernetesSecretStore, "kubernetes")
}
