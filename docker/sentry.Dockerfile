# local/sentry:1.18.3: Dapr's Sentry (the mTLS certificate authority) built by `scripts/setup-daprd.sh sentry`, as a
# container for the container smoke test. Build context: the folder of the binary. Statically linked (CGO_ENABLED=0),
# so the minimal base is enough. Its issuer credentials (ca.crt, issuer.crt, issuer.key) are bind-mounted; when they
# are missing, Sentry generates them there (files 0600, owned by this user).
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
COPY sentry /sentry
USER 10003:10003
ENTRYPOINT ["/sentry"]
