# PostgreSQL 15 for the suite's PostgreSQL topology where no registry is reachable (CI, the local
# overlays, Compose's `postgres` profile): Debian 12's postgresql-15 on the same base image as the
# service images, built the same way:
#
#   podman build --format docker -f deploy/docker/postgres.Dockerfile -t outreach-postgres deploy/docker
#
# The context is deploy/docker (not the repository root, whose .dockerignore sends sources only).
# It follows the official image's interface, so either image fits the manifests: PGDATA (a
# sub-directory of the volume, initdb refuses a mount point it does not own), POSTGRES_USER,
# POSTGRES_PASSWORD_FILE, POSTGRES_INITDB_ARGS, scripts in /docker-entrypoint-initdb.d run once
# on the first start, uid/gid 999. What it adds: SIGTERM is a fast shutdown (PostgreSQL's own
# SIGTERM, "smart", waits for every client to disconnect, which pooled clients never do), TLS
# when a certificate is mounted (then the network accepts TLS only), and C collation + UTF8 for
# the cluster. For evaluation; a force's production database is its own (deploy/README.md).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
# No default cluster from the package (the entrypoint makes one on the volume); uid 999 first,
# so the package reuses it.
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --no-create-home \
            --shell /bin/bash postgres \
 && mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && install -d -o postgres -g postgres -m 0750 /var/lib/postgresql /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql \
 && install -d -m 0755 /docker-entrypoint-initdb.d
COPY postgres/entrypoint /usr/local/bin/outreach-postgres-entrypoint
COPY postgres/healthcheck /usr/local/bin/outreach-postgres-healthcheck
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data/pgdata \
    LANG=C.UTF-8
USER 999:999
WORKDIR /var/lib/postgresql
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["/usr/local/bin/outreach-postgres-healthcheck"]
ENTRYPOINT ["/usr/local/bin/outreach-postgres-entrypoint"]
# Arguments go to postgres: e.g. -c listen_addresses=127.0.0.1 -p 5433.
CMD []
