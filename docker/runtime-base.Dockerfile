# local/jre17: the runtime stage's base where no registry can be pulled from (scripts/build-base-images.sh).
# Only the headless JRE 17 from Debian; no apt lists, caches, docs or man pages left behind.
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log /usr/share/doc/* /usr/share/man/*
CMD ["java", "-version"]
