# local/redis: Redis (Debian bookworm's redis-server, 7.0) for the container smoke test (container-tests/), where no
# registry can be pulled from; scripts/build-images.sh builds it on the local minimal Debian. Empty build context.
# Runs as UID/GID 999 (the user of the official redis image, which manifests/base/redis.yaml runs as), never root, and
# persists as manifests/base/redis.yaml does: append-only file in /data, fsynced every second, no RDB snapshots.
# No password and protected mode off: it is reachable only on the test's own Docker network (port 6379 not published).
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
# The user first, with a fixed id: the package's postinst keeps an existing system user redis.
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid redis --home-dir /var/lib/redis --no-create-home --shell /usr/sbin/nologin redis \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/* \
 && install -d -o redis -g redis -m 0750 /data
USER 999:999
WORKDIR /data
VOLUME /data
EXPOSE 6379
ENTRYPOINT ["redis-server"]
CMD ["--bind", "0.0.0.0", "--protected-mode", "no", "--port", "6379", "--dir", "/data", "--save", "", \
     "--appendonly", "yes", "--appendfsync", "everysec"]
