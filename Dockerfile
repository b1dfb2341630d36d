# The one `tidal` binary in a minimal image: every component is a subcommand
# (`tidal metrics-adapter`, `tidal cluster-autoscaler`, ...), so one image serves every Deployment
# and CronJob in deploy/.
#
#   docker build -t <registry>/tidal:<version> .
#
# Image name and tags: see docs/deploy.md ("The image"). The build stage needs only crates.io;
# the runtime stage has no shell and no package manager and runs as the distroless nonroot user.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# aws-lc-sys (rustls' crypto provider) builds C with cmake.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin tidal \
 && cp target/release/tidal /tidal

# glibc and libgcc, nothing else; uid/gid 65532 (nonroot), matching the manifests'
# runAsUser/fsGroup.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /tidal /usr/local/bin/tidal
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tidal"]
