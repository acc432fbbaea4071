# local/daprd:1.18.3: the daprd built by scripts/setup-daprd.sh, as a container for the container smoke test.
# Build context: the folder of the binary. Statically linked (CGO_ENABLED=0), so the minimal base is enough.
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
COPY daprd /daprd
USER 10002:10002
ENTRYPOINT ["/daprd"]
