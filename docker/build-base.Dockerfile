# local/maven-jdk17: the build stage's base where no registry can be pulled from (scripts/build-base-images.sh).
# JDK 17 (Debian packs its jmods, which jlink needs, in the headless JDK) and Maven from Debian. local-ca/ of the build context holds the host's locally added CAs: installed before
# ca-certificates and ca-certificates-java, they land in /etc/ssl/certs/ca-certificates.crt and in the Java trust
# store, so Maven reaches Central over HTTPS wherever the host does (also behind a TLS-inspecting proxy).
ARG BASE_IMAGE=local/bookworm-minbase
FROM ${BASE_IMAGE}
COPY local-ca/ /usr/local/share/ca-certificates/local/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates ca-certificates-java openjdk-17-jdk-headless maven \
 && update-ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/*
CMD ["mvn", "--version"]
