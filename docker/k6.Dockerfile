# k6 (scripts/setup-go-tool.sh k6, built from the Go module proxy) on the local base image, for the k6 Job of
# manifests/components/k6-load on a cluster that cannot pull grafana/k6 (manifests/overlays/local names this image).
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
COPY k6 /usr/bin/k6
USER 12345:12345
ENTRYPOINT ["/usr/bin/k6"]
