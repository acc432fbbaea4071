# local/zipkin:3.5.1: the Zipkin server (io.zipkin:zipkin-server:3.5.1, its exec jar from Maven Central, the jar
# scripts/setup-zipkin.sh gives) for manifests/overlays/local, on a cluster that cannot pull openzipkin/zipkin:3.5.1,
# the image manifests/base/zipkin.yaml names. scripts/build-images.sh builds it; the build context holds zipkin.jar.
# A jlinked Java 17 runtime (Zipkin 3 needs 17) of the Java SE modules, on the local minimal Debian.
ARG BUILD_IMAGE=local/maven-jdk17
ARG RUNTIME_IMAGE=local/bookworm-minbase
FROM ${BUILD_IMAGE} AS jre
RUN jlink --add-modules java.se,jdk.unsupported,jdk.crypto.ec,jdk.naming.dns,jdk.management,jdk.zipfs \
      --strip-java-debug-attributes --no-man-pages --no-header-files --compress=2 --output /opt/java

FROM ${RUNTIME_IMAGE}
COPY --from=jre /opt/java /opt/java
COPY zipkin.jar /zipkin/zipkin.jar
# The UID of the apps (manifests/base runs every pod as 10001); the jar stays root's, readable.
USER 10001:10001
ENV PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EXPOSE 9411
# Zipkin reads its settings from the environment (STORAGE_TYPE, MEM_MAX_SPANS, QUERY_PORT), as openzipkin/zipkin does.
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-XX:+ExitOnOutOfMemoryError", "-Djava.io.tmpdir=/tmp", \
            "-jar", "/zipkin/zipkin.jar"]
LABEL org.opencontainers.image.title="zipkin" org.opencontainers.image.version="3.5.1"
