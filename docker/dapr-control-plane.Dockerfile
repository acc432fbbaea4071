# local/{operator,injector,placement,scheduler}:1.18.3: Dapr's control plane for the one-node cluster of
# scripts/cluster.sh, one image per binary as Dapr's chart expects ({global.registry}/{name}:{global.tag}, the binary at
# /<name>, which the chart names as the command). Build context: the folder of the binary; --build-arg BINARY=<name>.
# Statically linked (CGO_ENABLED=0), so the minimal base is enough. UID 65532, as Dapr's own images (distroless
# nonroot): the chart's scheduler gives its data folder to fsGroup 65532.
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
ARG BINARY
COPY ${BINARY} /${BINARY}
USER 65532:65532
